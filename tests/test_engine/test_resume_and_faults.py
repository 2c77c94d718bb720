"""Reliability of training: resume restores the complete training state, a
run killed with SIGKILL resumes from its last complete checkpoint, a
truncated checkpoint is detected, and 2 DDP processes compute what one
process computes."""
import copy
import os
import os.path as osp
import random
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import torch
from dsrl_ddp_reference import build_model, fixed_batch, losses_and_grads
from dsrl_test_utils import REPO
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmseg_dsrl.analysis.configs import use_bn_without_cuda

pytestmark = pytest.mark.integration

# The paper setting (SSSR + SISR + FA): every part goes through the tools.
DSRL_CFG = osp.join(
    REPO, 'configs', 'dsrl',
    'dsrl-paper_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


def _options(data_root, max_iters, work_dir):
    return {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': 1000,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'param_scheduler.1.end': 100,
        'randomness': dict(seed=0, deterministic=True),
        'work_dir': work_dir,
    }


def _config(data_root, work_dir, max_iters):
    cfg = Config.fromfile(DSRL_CFG)
    cfg.merge_from_dict(_options(data_root, max_iters, work_dir))
    use_bn_without_cuda(cfg)
    return cfg


class _TrainingState(Hook):
    """Records everything the next iteration depends on, at one boundary.

    ``before_train_iter`` of iteration ``at`` (0-based; the data batch is
    already drawn) or ``after_train_iter`` of iteration ``at - 1``. LOWEST
    priority: after the TorchRNGStateHook restore and the checkpoint save.
    """

    def __init__(self, at: int, after_previous: bool = False) -> None:
        self.at, self.after_previous = at, after_previous
        self.state = None

    def _record(self, runner, data_batch=None) -> None:
        self.state = dict(
            model={k: v.clone()
                   for k, v in runner.model.state_dict().items()},
            optimizer=copy.deepcopy(runner.optim_wrapper.state_dict()),
            schedulers=[s.state_dict() for s in runner.param_schedulers],
            torch_rng=torch.get_rng_state(),
            numpy_rng=np.random.get_state(),
            python_rng=random.getstate(),
            batch=copy.deepcopy(data_batch))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if not self.after_previous and batch_idx == self.at:
            self._record(runner, data_batch)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.after_previous and batch_idx == self.at - 1:
            self._record(runner)


def _train(data_root, work_dir, max_iters, resume=False, record=None):
    cfg = _config(data_root, work_dir, max_iters)
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    if record is not None:
        runner.register_hook(record, priority='LOWEST')
    runner.train()
    return torch.load(osp.join(work_dir, f'iter_{max_iters}.pth'),
                      map_location='cpu', weights_only=False)


def _assert_identical(a, b, path=''):
    """Same nested structure; tensors bitwise equal, other leaves equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            _assert_identical(a[key], b[key], f'{path}/{key}')
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f'{path}/{i}')
    else:
        assert a == b, path


def test_resume_restores_the_complete_training_state(
        tmp_path, demo_data_root):
    """Resuming at iteration 2 starts iteration 3 from exactly the state an
    uninterrupted run starts it from.

    Compared where it is defined independently of floating-point
    reproducibility: weights, buffers, optimizer and scheduler state against
    the interrupted run's own state when it stopped (the same lineage), and
    the random states and the next data batch against the uninterrupted
    run (they depend on the number of draws, not on float results). The
    weights of two separate trainings are not compared bitwise: with this
    config, training 4 iterations with 1 thread instead of 2 (a change of
    summation order only) moves conv1 by up to 0.04, so such a check would
    test the CPU kernels' run-to-run reproducibility, not the resume.
    """
    whole = _TrainingState(at=2)
    _train(demo_data_root, str(tmp_path / 'whole'), 3, record=whole)
    stopped = _TrainingState(at=2, after_previous=True)
    _train(demo_data_root, str(tmp_path / 'split'), 2, record=stopped)
    resumed = _TrainingState(at=2)
    ckpt = _train(demo_data_root, str(tmp_path / 'split'), 3, resume=True,
                  record=resumed)
    assert ckpt['meta']['iter'] == 3
    w, s, r = whole.state, stopped.state, resumed.state
    assert w and s and r
    # The interrupted run's state, restored.
    assert any('running_mean' in k for k in r['model'])  # buffers too
    _assert_identical(r['model'], s['model'], 'model')
    _assert_identical(r['optimizer'], s['optimizer'], 'optimizer')
    assert r['optimizer']['state'], 'no momentum buffers were compared'
    assert r['schedulers'] == s['schedulers'] == w['schedulers']
    # The uninterrupted run's randomness and data, reproduced.
    assert torch.equal(r['torch_rng'], w['torch_rng'])
    assert torch.equal(r['torch_rng'], s['torch_rng'])
    assert r['python_rng'] == w['python_rng']
    for x, y in zip(r['numpy_rng'], w['numpy_rng']):
        assert np.array_equal(x, y)
    rb, wb = r['batch'], w['batch']
    assert len(rb['inputs']) == len(wb['inputs']) == 2
    for x, y in zip(rb['inputs'], wb['inputs']):
        assert torch.equal(x, y)
    for x, y in zip(rb['data_samples'], wb['data_samples']):
        assert torch.equal(x.gt_sem_seg.data, y.gt_sem_seg.data)
        assert x.metainfo['img_path'] == y.metainfo['img_path']
        assert x.metainfo['flip'] == y.metainfo['flip']
    # load_from (the runner's other checkpoint path) loads the weights.
    saved = torch.load(str(tmp_path / 'split' / 'iter_2.pth'),
                       map_location='cpu', weights_only=False)
    cfg = _config(demo_data_root, str(tmp_path / 'load_from'), 4)
    cfg.load_from = str(tmp_path / 'split' / 'iter_2.pth')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    loaded = runner.model.state_dict()
    for key, value in saved['state_dict'].items():
        assert torch.equal(loaded[key], value), key


def _run_tool(args, env, timeout=600):
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def _train_command(python, work, data_root, max_iters):
    """``tools/train.py`` on the demo config, as a user runs it."""
    options = [f'{k}={v}'
               for k, v in _options(data_root, max_iters, '').items()
               if k not in ('work_dir', 'randomness')]
    return [python, 'tools/train.py', DSRL_CFG, '--work-dir', work,
            '--cfg-options', *options]


def test_killed_run_resumes_from_last_complete_checkpoint(
        tmp_path, demo_data_root, python_env):
    env, python = python_env
    work = str(tmp_path)
    cmd = _train_command(python, work, demo_data_root, 8)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while not osp.exists(osp.join(work, 'iter_4.pth')):
            assert proc.poll() is None, 'training ended before iteration 4'
            assert time.time() < deadline, 'no checkpoint within 300 s'
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # during iteration 5 or 6
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not osp.exists(osp.join(work, 'iter_8.pth'))
    # The checkpoint the run recorded last (iter_4 or, if the kill came
    # before the record, iter_2), complete thanks to the atomic save.
    last = open(osp.join(work, 'last_checkpoint')).read().strip()
    assert osp.basename(last) in ('iter_2.pth', 'iter_4.pth', 'iter_6.pth')
    code, out = _run_tool(cmd + ['--resume'], env)
    assert code == 0, out[-3000:]
    resumed_from = [line for line in out.splitlines() if 'resumed' in line]
    assert resumed_from and last in resumed_from[0]
    assert osp.isfile(osp.join(work, 'iter_8.pth'))
    # No half-written checkpoint is ever left under a checkpoint's name.
    for name in os.listdir(work):
        if name.endswith('.pth'):
            torch.load(osp.join(work, name), weights_only=False)


def test_truncated_last_checkpoint_is_detected_not_loaded(
        tmp_path, demo_data_root, python_env):
    env, python = python_env
    work = str(tmp_path)
    code, out = _run_tool(_train_command(python, work, demo_data_root, 2),
                          env)
    assert code == 0, out[-3000:]
    last = open(osp.join(work, 'last_checkpoint')).read().strip()
    data = open(last, 'rb').read()
    with open(last, 'wb') as f:  # as a kill during a non-atomic write
        f.write(data[:len(data) // 2])
    code, out = _run_tool(
        _train_command(python, work, demo_data_root, 4) + ['--resume'], env)
    assert code != 0
    assert f'not a readable checkpoint: {last} (truncated' in out
    assert 'Iter(train) [1/4]' not in out  # did not start over silently


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ddp_processes_compute_what_one_process_computes(
        tmp_path, python_env):
    env, python = python_env
    env = dict(env, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    out_file = str(tmp_path / 'ddp.pth')
    code, out = _run_tool([
        python, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_addr', '127.0.0.1', '--master_port', str(_free_port()),
        osp.join(REPO, 'tests', 'dsrl_ddp_worker.py'), out_file
    ], env)
    assert code == 0, out[-3000:]
    ddp = torch.load(out_file, weights_only=False)
    inputs, samples = fixed_batch()
    losses, grads = losses_and_grads(build_model(), inputs, samples)
    assert {'decode.loss_ce', 'sisr.loss_sr', 'fa.loss_fa'} <= set(losses)
    assert losses.keys() == ddp['losses'].keys()
    for key in losses:
        torch.testing.assert_close(ddp['losses'][key], losses[key],
                                   rtol=1e-5, atol=1e-6)
    assert grads.keys() == ddp['grads'].keys()
    for name in grads:
        torch.testing.assert_close(ddp['grads'][name], grads[name],
                                   rtol=1e-4, atol=1e-6, msg=name)
