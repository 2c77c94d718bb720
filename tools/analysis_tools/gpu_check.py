"""The GPU check: CUDA tests, mixed-precision training and GPU timings.

Run it on a CUDA machine after ``tools/analysis_tools/gpu_check.sh`` (or
your own environment) has installed the stack. It prints one Markdown table
(and writes it, with the raw numbers as JSON, to ``--out-dir``):

* ``tests``: ``pytest tests/test_cuda``: CPU/CUDA parity of the modules,
  and every loss term of the shipped CamVid configs under CUDA fp16 and
  bf16 autocast against float32, with finite gradients;
* ``amp``: the DSRL and ICNet demo configs trained ``--iters`` iterations in
  fp32 and through mmengine's ``AmpOptimWrapper`` in fp16 and bf16, same
  seed; the loss curves compared with fp32, and the val mIoU of each;
* ``ddp``: a 1-GPU ``torchrun ... --launcher pytorch`` run of the DSRL demo
  config with ``sync_bn='torch'`` (every BN a SyncBatchNorm, nccl);
* ``fa``: the FA loss at the paper's Cityscapes size (1024x2048 output,
  subsampling 8: N = 32768), forward + backward time and peak memory for
  a few row-block sizes, against its bound (the matrix-product FLOPs the
  exact loss cannot avoid over the GPU's measured float32 product rate);
* ``icnet``: ICNet-R50 at 1024x2048, every exit, fp32 and fp16 autocast,
  frames per second (the paper: 30.3 fps on a Titan X, sub124);
* ``step``: DSRL vs. its LR baseline, DeepLabV3+-R50 at Cityscapes size
  (HR 1024x2048, LR 512x1024, batch 2), one ``train_step`` each, in
  shuffled rounds (paired ratio), fp32 and fp16.

Weights are random (nothing is downloaded): the timings do not depend on
them, and the training runs start from scratch on the built-in demo
dataset, which is written if missing.

Examples:
    python tools/analysis_tools/gpu_check.py --out-dir work_dirs/gpu_check
    python tools/analysis_tools/gpu_check.py --sections fa icnet --quick
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List

import torch

from mmseg_dsrl.analysis.cli import positive_int
from mmseg_dsrl.analysis.training_logs import (compare_loss_curves, loss_curve,
                                            markdown_table, read_scalars)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SECTIONS = ('tests', 'amp', 'ddp', 'fa', 'icnet', 'step')
AMP_CONFIGS = {
    'DSRL demo': 'configs/dsrl/'
    'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
    'ICNet demo': 'configs/icnet/icnet-cascade_r18-d8_1xb4-400i_dsrl-demo-'
    '256x512.py',
}
PRECISIONS = {'fp32': None, 'fp16': 'float16', 'bf16': 'bfloat16'}
ICNET_CONFIG = 'configs/icnet/icnet-cascade_r50-d8_4xb2-80k_cityscapes-832x832.py'
STEP_CONFIGS = (
    'configs/dsrl/lr-input_deeplabv3plus_r50-d8_4xb2-80k_cityscapes-'
    '512x1024.py',
    'configs/dsrl/dsrl_deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py')
# Relative difference of the final training loss (mean of the last 5
# logged steps) to fp32 that the table calls 'ok'. The same seed in another
# precision follows another trajectory (rounding, and fp16's dynamic loss
# scale skips the first steps whose gradients overflow), so this is a
# coarse bound against a broken loss, not calibrated on seed-to-seed
# spread.
AMP_FINAL_LOSS_TOLERANCE = 0.15


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sections',
        nargs='+',
        choices=SECTIONS,
        default=list(SECTIONS),
        help='what to run (default: everything)')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/gpu_check',
        help='table (gpu_check.md), raw results (gpu_check.json), runs')
    parser.add_argument(
        '--iters',
        type=positive_int,
        default=200,
        help='training iterations of each amp run (default 200; at least 2)')
    parser.add_argument(
        '--data-root',
        default='data/dsrl_demo',
        help='the demo dataset (written here if missing)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='fewer rounds and sizes (a smoke run of the script itself)')
    parser.add_argument(
        '--allow-cpu',
        action='store_true',
        help='run on a machine without CUDA (only to test the script)')
    args = parser.parse_args(argv)
    if not args.allow_cpu and not torch.cuda.is_available():
        parser.error('no CUDA device is visible (torch '
                     f'{torch.__version__}, torch.version.cuda='
                     f'{torch.version.cuda}); this check is for a GPU '
                     'machine (--allow-cpu runs it on the CPU, for testing '
                     'the script only)')
    return args


def device() -> str:
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def python_env() -> Dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    return env


def run_logged(cmd: List[str], log: str, timeout: float) -> int:
    """Run ``cmd`` in the repository with its output in ``log``."""
    with open(log, 'w') as f:
        try:
            return subprocess.run(
                cmd,
                cwd=REPO,
                env=python_env(),
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            f.write(f'\n[gpu_check] timed out after {timeout} s\n')
            return 124


# ----------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------
def pytest_summary(log: str) -> str:
    """pytest's closing counts ('12 passed, 1 skipped') from its log."""
    with open(log) as f:
        text = f.read()
    counts = re.findall(r'(\d+) (passed|failed|skipped|errors?)', text[-2000:])
    return ', '.join(f'{n} {what}' for n, what in counts) or 'no summary'


def check_tests(args, rows: List[list], raw: dict) -> None:
    log = osp.join(args.out_dir, 'pytest.log')
    targets = ['tests/test_cuda']
    rc = run_logged([
        sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
        *targets
    ], log, timeout=600)
    summary = pytest_summary(log)
    raw['tests'] = dict(returncode=rc, summary=summary, targets=targets)
    rows.append(['tests', ' + '.join(targets), summary, 'all pass',
                 'ok' if rc == 0 else 'FAIL'])


# ----------------------------------------------------------------------
# mixed-precision training
# ----------------------------------------------------------------------
def amp_cfg_options(precision: str, iters: int, data_root: str) -> List[str]:
    """``--cfg-options`` of one amp run: the demo schedule (linear warm-up,
    then poly decay) cut to ``iters`` (validation at the end), the data
    root, and the optimizer wrapper."""
    warmup = min(20, iters // 2)  # the demo schedules warm up 20 iters
    options = [
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'param_scheduler.0.end={warmup}',
        f'param_scheduler.1.begin={warmup}', f'param_scheduler.1.end={iters}',
        'default_hooks.checkpoint.interval=-1',  # no checkpoints
        'default_hooks.logger.interval=10', 'randomness.seed=0',
        'randomness.deterministic=False',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}'
    ]
    dtype = PRECISIONS[precision]
    if dtype is not None:
        options += [
            'optim_wrapper.type=AmpOptimWrapper',
            'optim_wrapper.loss_scale=dynamic', f'optim_wrapper.dtype={dtype}'
        ]
    return options


def final_metric(records: List[dict], key: str = 'mIoU') -> float:
    values = [r[key] for r in records if key in r]
    return float(values[-1]) if values else float('nan')


def check_amp(args, rows: List[list], raw: dict) -> None:
    from mmseg_dsrl.datasets import write_demo_dataset
    if not osp.isdir(osp.join(args.data_root, 'img_dir')):
        write_demo_dataset(args.data_root)
    runs = {}
    procs = []
    # All six runs side by side on the GPU (each is small).
    for name, config in AMP_CONFIGS.items():
        for precision in PRECISIONS:
            work_dir = osp.join(args.out_dir, 'amp',
                                f'{name.split()[0].lower()}-{precision}')
            os.makedirs(work_dir, exist_ok=True)
            cmd = [
                sys.executable, 'tools/train.py', config, '--work-dir',
                osp.abspath(work_dir), '--cfg-options',
                *amp_cfg_options(precision, args.iters,
                                 osp.abspath(args.data_root))
            ]
            log = osp.join(work_dir, 'train.log')
            procs.append((name, precision, work_dir,
                          subprocess.Popen(
                              cmd,
                              cwd=REPO,
                              env=python_env(),
                              stdout=open(log, 'w'),
                              stderr=subprocess.STDOUT)))
    for n, precision, work_dir, proc in procs:
        proc.wait(timeout=900)
        runs[(n, precision)] = (proc.returncode, work_dir)
    raw['amp'] = {}
    for name in AMP_CONFIGS:
        rc, ref_dir = runs[(name, 'fp32')]
        ref = read_scalars(ref_dir) if rc == 0 else []
        for precision in PRECISIONS:
            rc, work_dir = runs[(name, precision)]
            key = f'{name} {precision}'
            if rc != 0:
                raw['amp'][key] = dict(returncode=rc)
                rows.append(['amp', key, f'training failed (rc {rc}, see '
                             f'{work_dir}/train.log)', '', 'FAIL'])
                continue
            records = read_scalars(work_dir)
            mious = final_metric(records)
            curve = loss_curve(records)
            first = {
                k: v
                for k, v in min((r for r in records if 'lr' in r),
                                key=lambda r: r['step']).items()
                if 'loss' in k
            }
            entry = dict(mIoU=mious, first_logged_losses=first, curve=curve)
            if precision == 'fp32' or not ref:
                raw['amp'][key] = entry
                rows.append(['amp', key, f'loss {curve[max(curve)]:.3f}, '
                             f'mIoU {mious:.2f}', 'reference', 'ok'])
                continue
            cmp = compare_loss_curves(loss_curve(ref), curve)
            entry.update(cmp)
            raw['amp'][key] = entry
            zero_terms = [k for k, v in first.items() if v == 0.0]
            ok = (cmp['all_finite'] and not zero_terms and
                  abs(cmp['final_rel_diff']) <= AMP_FINAL_LOSS_TOLERANCE)
            rows.append([
                'amp', key,
                f"final loss {cmp['final']:.3f} ({cmp['final_rel_diff']:+.1%}"
                f" vs fp32), median step diff {cmp['median_rel_diff']:.1%}, "
                f'mIoU {mious:.2f} (fp32 {final_metric(ref):.2f})'
                + (f', zero terms: {zero_terms}' if zero_terms else ''),
                f'finite, no zero term, final within '
                f'{AMP_FINAL_LOSS_TOLERANCE:.0%}', 'ok' if ok else 'FAIL'
            ])


# ----------------------------------------------------------------------
# DDP with SyncBN
# ----------------------------------------------------------------------
def check_ddp(args, rows: List[list], raw: dict) -> None:
    from mmseg_dsrl.datasets import write_demo_dataset
    if not osp.isdir(osp.join(args.data_root, 'img_dir')):
        write_demo_dataset(args.data_root)
    work_dir = osp.abspath(osp.join(args.out_dir, 'ddp'))
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'train.log')
    iters = 20
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '1', '--master_port', '29533', 'tools/train.py',
        AMP_CONFIGS['DSRL demo'], '--launcher', 'pytorch', '--work-dir',
        work_dir, '--cfg-options', 'sync_bn=torch',
        *amp_cfg_options('fp32', iters, osp.abspath(args.data_root))
    ]
    start = time.perf_counter()
    rc = run_logged(cmd, log, timeout=600)
    with open(log) as f:
        text = f.read()
    # mmengine's Runner converts every BN to SyncBatchNorm in wrap_model
    # when the run is distributed and cfg.sync_bn is set; the log says
    # whether it was distributed and whether validation ran at the end.
    distributed = 'Distributed training: True' in text
    miou = re.findall(r'mIoU: ([0-9.]+)', text)
    raw['ddp'] = dict(
        returncode=rc,
        seconds=time.perf_counter() - start,
        distributed=distributed,
        mIoU=float(miou[-1]) if miou else None)
    ok = rc == 0 and distributed and bool(miou)
    rows.append([
        'ddp', '1-GPU torchrun --launcher pytorch, sync_bn=torch, DSRL demo',
        f'rc {rc}, distributed: {distributed}, val mIoU after {iters} '
        f"iterations: {miou[-1] if miou else 'none'}",
        'trains and validates', 'ok' if ok else 'FAIL'
    ])


# ----------------------------------------------------------------------
# FA loss at N = 32768
# ----------------------------------------------------------------------
def fa_bound_flops(batch: int, n: int, channels: int) -> float:
    """Matrix-product FLOPs of an exact FA loss, forward and backward: the
    N x N products (2 B N^2 C) forward, recomputed plus multiplied by the
    features backward (twice that)."""
    return 3 * 2 * batch * n * n * channels


def check_fa(args, rows: List[list], raw: dict) -> None:
    from mmseg_dsrl.models.functional import affinity_distance
    batch, c_seg, c_sr = 2, 19, 3
    h, w = (64, 128) if args.quick else (128, 256)  # 1024x2048 / 8
    n = h * w
    from mmseg_dsrl.analysis.measurement import matmul_rate
    rate = matmul_rate(size=2048 if args.quick else 8192, device=device())
    bound = fa_bound_flops(batch, n, c_seg + c_sr) / rate
    raw['fa'] = dict(n=n, batch=batch, fp32_matmul_flops=rate,
                     bound_s=bound, blocks={})
    g = torch.Generator().manual_seed(0)
    a0 = torch.randn(batch, c_seg, h, w, generator=g).to(device())
    b0 = torch.randn(batch, c_sr, h, w, generator=g).to(device())
    from mmseg_dsrl.models.functional import auto_block_size
    default = auto_block_size(batch, n, 4, device())
    blocks = (64, 512, 2048, 4096) if not args.quick else (64, 512)
    for block in sorted(set(blocks) | {default}):
        def step():
            a = a0.clone().requires_grad_()
            b = b0.clone().requires_grad_()
            affinity_distance(a, b, block_size=block).sum().backward()

        step()
        synchronize()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        times = []
        for _ in range(3 if args.quick else 5):
            synchronize()
            start = time.perf_counter()
            step()
            synchronize()
            times.append(time.perf_counter() - start)
        peak = (torch.cuda.max_memory_allocated() - base
                if torch.cuda.is_available() else float('nan'))
        t = sorted(times)[len(times) // 2]
        raw['fa']['blocks'][block] = dict(seconds=t, peak_bytes=peak)
        rows.append([
            'fa', f'N = {n}, batch {batch}, block {block} rows'
            + (' (default)' if block == default else '') + ', fwd + bwd',
            f'{t * 1e3:.1f} ms ({t / bound:.2f}x bound), peak '
            f'{peak / 2**20:.0f} MiB',
            f'bound {bound * 1e3:.2f} ms at {rate / 1e12:.1f} TFLOP/s fp32; '
            f'naive S: {2 * batch * n * n * 4 / 2**30:.0f} GiB', 'measured'
        ])


# ----------------------------------------------------------------------
# ICNet fps at 1024x2048
# ----------------------------------------------------------------------
def check_icnet(args, rows: List[list], raw: dict) -> None:
    from mmseg_dsrl.analysis.measurement import build_inference_model, time_runner
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.inference_backends import InferencePath, build_runner
    torch.backends.cudnn.benchmark = True
    cfg = load_config(osp.join(REPO, ICNET_CONFIG))
    cfg.model.backbone.backbone_cfg.init_cfg = None  # no download
    shape = (512, 1024) if args.quick else (1024, 2048)
    model = build_inference_model(cfg, device=device())
    inputs = torch.randn(1, 3, *shape, device=device())
    raw['icnet'] = {}
    for exit in ('sub4', 'sub24', 'sub124'):
        model.test_cfg.exit = exit
        for precision in ('fp32', 'fp16') if device() == 'cuda' else (
                'fp32', ):
            run = build_runner(model, InferencePath(precision=precision),
                               inputs)
            t = time_runner(run, inputs, warmup=5,
                            runs=10 if args.quick else 30)
            raw['icnet'][f'{exit} {precision}'] = t
            rows.append([
                'icnet', f'ICNet-R50 {exit}, {shape[0]}x{shape[1]}, '
                f'{precision}',
                f"{t['median'] * 1e3:.1f} ms, {t['images_per_s']:.1f} fps",
                'paper sub124: 33 ms, 30.3 fps (Titan X, fp32)'
                if exit == 'sub124' else '', 'measured'
            ])


# ----------------------------------------------------------------------
# DSRL vs. LR training step at Cityscapes size
# ----------------------------------------------------------------------
def check_step(args, rows: List[list], raw: dict) -> None:
    import copy

    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS

    from mmseg_dsrl.analysis.measurement import paired_ratios, round_robin_times
    from mmseg_dsrl.analysis.configs import load_config, replace_norm_type
    from mmseg_dsrl.analysis.zoo_check import synthetic_batch
    torch.backends.cudnn.benchmark = True
    size = (512, 1024) if args.quick else (1024, 2048)
    batch = 2
    raw['step'] = {}
    for precision in ('fp32', 'fp16') if device() == 'cuda' else ('fp32', ):
        calls: Dict[str, Callable[[], object]] = {}
        for path in STEP_CONFIGS:
            cfg = load_config(osp.join(REPO, path))
            replace_norm_type(cfg.model)  # one process: BN, not SyncBN
            cfg.model.backbone.init_cfg = None  # no download
            cfg.model.data_preprocessor.size = size
            if 'probe_size' in cfg.model or 'sssr_head' in cfg.model:
                cfg.model.probe_size = size
            model = MODELS.build(cfg.model).to(device()).train()
            wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
            if precision == 'fp16':
                wrapper_cfg.type = 'AmpOptimWrapper'
                wrapper_cfg.dtype = 'float16'
                wrapper_cfg.loss_scale = 'dynamic'
            optim = build_optim_wrapper(model, wrapper_cfg)
            data = synthetic_batch(cfg.model.decode_head.num_classes, size,
                                   batch)
            name = 'DSRL' if 'dsrl_' in path else 'LR'
            calls[name] = (lambda m=model, o=optim, d=data:
                           m.train_step(d, o))
        times = round_robin_times(
            dict(LR=calls['LR'], DSRL=calls['DSRL']),
            rounds=3 if args.quick else 10,
            warmup=2,
            cuda=device() == 'cuda',
            shuffle_seed=0,
            no_grad=False)
        ratios = paired_ratios(times, 'LR')
        raw['step'][precision] = ratios
        for r in ratios:
            rows.append([
                'step', f"DeepLabV3+-R50 {r['name']}, HR {size[0]}x{size[1]}"
                f', batch {batch}, {precision}',
                f"{r['ms']:.1f} ms, {r['ratio']:.3f}x LR "
                f"({r['ratio_q1']:.3f}-{r['ratio_q3']:.3f})", '', 'measured'
            ])
        del calls
        torch.cuda.empty_cache() if torch.cuda.is_available() else None


CHECKS = dict(
    tests=check_tests,
    amp=check_amp,
    ddp=check_ddp,
    fa=check_fa,
    icnet=check_icnet,
    step=check_step)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    import mmseg_dsrl  # noqa: F401  (registers the modules)
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    rows: List[list] = []
    raw: dict = dict(
        device=torch.cuda.get_device_name()
        if torch.cuda.is_available() else 'cpu',
        torch=torch.__version__,
        cuda=torch.version.cuda,
        sections=args.sections,
        seconds={})
    failed = False
    for section in args.sections:
        start = time.perf_counter()
        try:
            CHECKS[section](args, rows, raw)
        except Exception as e:  # noqa: BLE001 - reported in the table
            failed = True
            rows.append([section, 'error', f'{type(e).__name__}: {e}', '',
                         'FAIL'])
        raw['seconds'][section] = time.perf_counter() - start
        print(f'[gpu_check] {section}: {raw["seconds"][section]:.0f} s',
              flush=True)
    table = markdown_table(
        ['section', 'check', 'result', 'reference', 'status'], rows)
    header = (f"GPU check on {raw['device']} (torch {raw['torch']}, CUDA "
              f"{raw['cuda']}), sections {' '.join(args.sections)}\n\n")
    with open(osp.join(args.out_dir, 'gpu_check.md'), 'w') as f:
        f.write(header + table + '\n')
    with open(osp.join(args.out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(raw, f, indent=1, default=str)
    print(header + table)
    failed = failed or any(r[-1] == 'FAIL' for r in rows)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
