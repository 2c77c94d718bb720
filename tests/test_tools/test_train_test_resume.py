"""Short end-to-end runs of the project's tools on the demo dataset."""
import glob
import os.path as osp
import subprocess

import pytest
from dsrl_test_utils import REPO

pytestmark = pytest.mark.integration

# The paper setting (SSSR + SISR + FA): every part goes through the tools.
DSRL_CFG = osp.join(
    REPO, 'configs', 'dsrl',
    'dsrl-paper_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')
DEFAULT_DSRL_CFG = osp.join(
    REPO, 'configs', 'dsrl',
    'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


def small_run_options(data_root, max_iters):
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        'param_scheduler.1.end=100',
    ]


def run(args, env, timeout=600):
    proc = subprocess.run(
        args,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out


@pytest.fixture(scope='module')
def trained(tmp_path_factory, demo_data_root, python_env):
    env, python = python_env
    work_dir = str(tmp_path_factory.mktemp('work'))
    out = run([
        python, 'tools/train.py', DSRL_CFG, '--work-dir', work_dir,
        '--cfg-options', *small_run_options(demo_data_root, 4)
    ], env)
    return dict(work_dir=work_dir, log=out, data_root=demo_data_root)


def test_train_logs_each_dsrl_loss_and_validates(trained):
    log = trained['log']
    for key in ('decode.loss_ce', 'sisr.loss_sr', 'fa.loss_fa',
                'aux_0.loss_ce'):
        assert key in log, key
    assert 'mIoU' in log
    # The demo DSRL config validates the SISR branch too (opt-in).
    assert 'sisr/PSNR' in log and 'sisr/SSIM' in log
    assert len(
        glob.glob(osp.join(trained['work_dir'], 'sisr_vis',
                           '*_sisr.png'))) == 4
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_4.pth'))


def test_test_tool_reports_miou_with_and_without_tta(trained, python_env):
    env, python = python_env
    ckpt = osp.join(trained['work_dir'], 'iter_4.pth')
    opts = ['--cfg-options', *small_run_options(trained['data_root'], 4)]
    for extra in ([], ['--tta']):
        out = run([
            python, 'tools/test.py', DSRL_CFG, ckpt, '--work-dir',
            trained['work_dir'], *extra, *opts
        ], env)
        assert 'mIoU' in out and 'pole' in out


def test_resume_continues_from_last_iteration(trained, python_env):
    env, python = python_env
    out = run([
        python, 'tools/train.py', DSRL_CFG, '--work-dir', trained['work_dir'],
        '--resume', '--cfg-options',
        *small_run_options(trained['data_root'], 6)
    ], env)
    assert 'resumed' in out.lower() and 'iter_4.pth' in out
    assert 'Iter(train) [5/6]' in out
    assert 'Iter(train) [1/6]' not in out
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_6.pth'))


def test_init_model_inference_model_and_inferencer(trained):
    import numpy as np
    from mmengine.config import Config
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    cfg = Config.fromfile(DSRL_CFG)
    cfg.model.backbone.norm_cfg = dict(type='BN')
    ckpt = osp.join(trained['work_dir'], 'iter_4.pth')
    model = init_model(cfg, ckpt, device='cpu')
    assert type(model).__name__ == 'DSRLEncoderDecoder'
    img = sorted(
        glob.glob(osp.join(trained['data_root'], 'img_dir', 'val',
                           '*.png')))[0]
    result = inference_model(model, img)
    assert tuple(result.pred_sem_seg.shape) == (128, 256)
    inferencer = MMSegInferencer(model=cfg, weights=ckpt, device='cpu')
    pred = inferencer(img, return_datasamples=True)
    np.testing.assert_array_equal(pred.pred_sem_seg.data.numpy(),
                                  result.pred_sem_seg.data.numpy())


def test_mmseg_packaged_train_tool_trains_plugin_config(
        tmp_path, demo_data_root, python_env):
    import mmseg
    env, python = python_env
    mmseg_train = osp.join(
        osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    # The shipped default (FA into the SR side) through mmseg's own tool.
    out = run([
        python, mmseg_train, DEFAULT_DSRL_CFG, '--work-dir',
        str(tmp_path), '--cfg-options', *small_run_options(demo_data_root, 2)
    ], env)
    assert 'sisr.loss_sr' in out and 'decode.loss_ce' in out
    assert 'fa.loss_fa' in out
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_two_processes_gloo(tmp_path, demo_data_root, python_env):
    env, python = python_env
    # Two CPU processes on any machine: with a GPU visible, mmengine would
    # put rank 1 on cuda:1, which a one-GPU machine lacks.
    env = dict(env, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    # The shipped default: FA into the SR side only, with the SSSR-side FA
    # transform frozen; a trainable parameter without a gradient would stop
    # DDP's reduction at the second iteration.
    out = run([
        python, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port', str(free_port()), 'tools/train.py', DEFAULT_DSRL_CFG,
        '--launcher',
        'pytorch', '--work-dir',
        str(tmp_path), '--cfg-options', *small_run_options(demo_data_root, 2),
        'env_cfg.dist_cfg.backend=gloo'
    ], env)
    assert 'Distributed training: True' in out
    assert 'fa.loss_fa' in out
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def test_get_flops_and_benchmark_tools_on_dsrl_config(python_env):
    env, python = python_env
    out = run(
        [python, 'tools/analysis_tools/get_flops.py', DSRL_CFG, '--shape', '128', '256'], env)
    assert 'GFLOPs' in out and 'Params (inference graph)' in out
    flops = float(out.split('Flops: ')[1].split()[0])
    assert flops > 0
    out = run([
        python, 'tools/analysis_tools/benchmark.py', DSRL_CFG, '--shape', '128', '256',
        '--runs', '3', '--warmup', '1'
    ], env)
    assert 'median' in out and 'images/s' in out
