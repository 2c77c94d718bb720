"""Train-then-evaluate runs shared by the recipe scripts under tools/."""
import json
import os
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg_dsrl.utils.schedule import shorten_schedule  # noqa: F401 (re-exported)

from .configs import (load_config, use_bn_without_cuda,
                      with_class_count_check)


def set_data_root(cfg, data_root: str) -> None:
    """Point the train/val/test datasets of ``cfg`` at ``data_root``."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader in cfg:
            cfg[loader].dataset.data_root = data_root


def median_iteration_seconds(times: Sequence[float]) -> float:
    """Median of per-iteration training times, leaving out the first
    iteration (data-loader workers start during it) when there are more.

    Args:
        times (Sequence[float]): Seconds per iteration in order, as
            mmengine's ``IterTimerHook`` records them (``train/time``).

    Returns:
        float: The median.
    """
    if not times:
        raise ValueError('no iteration times recorded')
    return statistics.median(times[1:] if len(times) > 1 else times)


def train_and_evaluate(config: str,
                       work_dir: str,
                       data_root: Optional[str] = None,
                       iters: Optional[int] = None,
                       seed: int = 0,
                       cfg_options: Optional[Dict] = None,
                       log_level: str = 'INFO',
                       val_interval: Optional[int] = None) -> Dict:
    """Train ``config`` with mmengine's Runner, then validate.

    ``val_interval`` validates every that many iterations too (learning
    curves; mmengine logs each validation in ``vis_data/scalars.json``).

    Returns:
        dict: ``metrics`` (the validation metrics), ``train_s`` (training
        wall time, with start-up and the validation at the end of the
        schedule), ``s_per_iter`` (:func:`median_iteration_seconds` of the
        training iterations: data wait, step and hooks), ``model`` (the trained model, with ``model.cfg`` set
        like ``mmseg.apis.init_model`` does) and ``checkpoint``.
    """
    from mmengine.runner import Runner
    cfg = load_config(config, cfg_options)
    use_bn_without_cuda(cfg)
    with_class_count_check(cfg)
    if data_root is not None:
        set_data_root(cfg, data_root)
    if iters is not None:
        shorten_schedule(cfg, iters)
    if val_interval is not None:
        if val_interval < 1:
            raise ValueError(f'val_interval must be >= 1, got {val_interval}')
        cfg.train_cfg.val_interval = val_interval
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.log_level = log_level
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    iter_times = runner.message_hub.get_scalar('train/time').data[0]
    metrics = {k: float(v) for k, v in runner.val().items()}
    # As mmseg.apis.init_model does, so inference_model() takes the model.
    runner.model.cfg = cfg
    return dict(
        metrics=metrics,
        train_s=train_s,
        s_per_iter=median_iteration_seconds([float(t) for t in iter_times]),
        model=runner.model,
        checkpoint=f'{work_dir}/iter_{cfg.train_cfg.max_iters}.pth')


#: The CPU flags that decide which kernels torch, ONNX Runtime and OpenVINO
#: run: two CPUs of one model name can differ in them (an AMD EPYC with AVX2
#: only, another with AVX-512 VNNI), and with them in results (float
#: reduction order) and in INT8 accuracy (without VNNI, ONNX Runtime's u8s8
#: products saturate in 16 bits).
CPU_FEATURES = ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16',
                'amx_bf16', 'amx_int8')


def cpu_features(cpuinfo: str = '/proc/cpuinfo') -> Optional[List[str]]:
    """The flags of :data:`CPU_FEATURES` the CPU has (None where
    ``cpuinfo`` cannot be read, e.g. not Linux)."""
    try:
        with open(cpuinfo) as f:
            flags = next(line.split(':', 1)[1].split() for line in f
                         if line.startswith('flags'))
    except (OSError, StopIteration):
        return None
    return [name for name in CPU_FEATURES if name in flags]


def provenance() -> Dict[str, object]:
    """Where a run ran: CPU model and the instruction sets that change its
    numerics and speed (:func:`cpu_features`), cores, torch threads, GPU (if
    any), the versions of torch / mmcv / mmengine / mmseg and the repository
    commit (with ``+dirty`` when the work tree had changes)."""
    import platform
    import subprocess

    import mmcv
    import mmengine
    import mmseg
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

    def git(*args: str) -> str:
        try:
            return subprocess.run(['git', '-C', repo, *args],
                                  capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ''

    commit = git('rev-parse', 'HEAD')
    if commit and git('status', '--porcelain', '--untracked-files=no'):
        commit += '+dirty'
    return dict(
        cpu=cpu,
        cpu_features=cpu_features(),
        cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        gpu=torch.cuda.get_device_name(0)
        if torch.cuda.is_available() else None,
        torch=torch.__version__,
        mmcv=mmcv.__version__,
        mmengine=mmengine.__version__,
        mmseg=mmseg.__version__,
        commit=commit or None)


def finished_run(run_dir: str, config: str,
                 iters: Optional[int]) -> Optional[Tuple[Dict, object]]:
    """``(metrics, model)`` of a run that :func:`train_or_reuse` completed
    in ``run_dir`` with the same iteration count, else None.

    Raises:
        ValueError: when the finished run used another iteration count.
    """
    path = osp.join(run_dir, 'metrics.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        metrics = json.load(f)
    if metrics.get('iters') != iters:
        raise ValueError(
            f'{run_dir} was trained with iters={metrics.get("iters")}, this '
            f'call asks for iters={iters}; pick another work dir')
    from mmengine.config import Config

    from .measurement import build_inference_model

    # The runner's dump of the config the run trained with.
    cfg = Config.fromfile(osp.join(run_dir, osp.basename(config)))
    model = build_inference_model(cfg,
                                  osp.join(run_dir, metrics['checkpoint']))
    model.cfg = cfg
    return metrics, model


def train_or_reuse(run_dir: str,
                   config: str,
                   data_root: str,
                   iters: Optional[int],
                   seed: int,
                   cfg_options: Optional[Dict] = None,
                   val_interval: Optional[int] = None) -> Tuple[Dict, object]:
    """Train ``config`` into ``run_dir`` unless a finished run is there.

    A finished run leaves ``metrics.json`` (validation metrics, ``seed``,
    ``iters``, ``train_s``, the checkpoint's file name and
    :func:`provenance`) beside mmengine's outputs, so recipes can be
    interrupted and rerun.

    Returns:
        tuple: ``(metrics, model)``, the model in eval mode with ``cfg`` set.

    Raises:
        FileExistsError: ``run_dir`` holds an unfinished run.
    """
    done = finished_run(run_dir, config, iters)
    if done is not None:
        print(f'== {run_dir}: reusing the finished run', flush=True)
        return done
    if osp.isdir(run_dir) and os.listdir(run_dir):
        raise FileExistsError(
            f'{run_dir} holds an unfinished run (no metrics.json); move it '
            'away or pick another work dir')
    print(f'== {run_dir}: training {osp.basename(config)}, seed {seed}',
          flush=True)
    where = provenance()  # the code the run starts with
    out = train_and_evaluate(config, run_dir, data_root, iters, seed,
                             cfg_options, val_interval=val_interval)
    metrics = dict(
        seed=seed,
        iters=iters,
        val_interval=val_interval,
        train_s=out['train_s'],
        s_per_iter=out['s_per_iter'],
        checkpoint=osp.basename(out['checkpoint']),
        provenance=where,
        **out['metrics'])
    with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    return metrics, out['model'].eval()


def evaluate_init_or_reuse(run_dir: str,
                           config: str,
                           data_root: str,
                           seed: int,
                           cfg_options: Optional[Dict] = None
                           ) -> Tuple[Dict, object]:
    """The "zero-shot" row of a config that fine-tunes ``load_from``: the
    model as loaded, before any step, evaluated with the config's own val
    pipeline and evaluator, in a run folder like :func:`train_or_reuse`'s
    (``metrics.json`` with ``iters=0``; the loaded weights as
    ``iter_0.pth``; the config as the run used it), so a record can be
    written the same way."""
    done = finished_run(run_dir, config, 0)
    if done is not None:
        print(f'== {run_dir}: reusing the finished evaluation', flush=True)
        return done
    if osp.isdir(run_dir) and os.listdir(run_dir):
        raise FileExistsError(f'{run_dir} holds an unfinished run (no '
                              'metrics.json); move it away')
    import torch
    from mmengine.runner.checkpoint import CheckpointLoader
    cfg = load_config(config, cfg_options)
    if not cfg.get('load_from'):
        raise ValueError(f'{config} has no load_from: nothing to evaluate '
                         'before training')
    where = provenance()
    os.makedirs(run_dir, exist_ok=True)
    checkpoint = osp.join(run_dir, 'iter_0.pth')
    torch.save(CheckpointLoader.load_checkpoint(cfg.load_from, 'cpu'),
               checkpoint)
    cfg.randomness = dict(seed=seed)
    cfg.dump(osp.join(run_dir, osp.basename(config)))
    start = time.perf_counter()
    out = evaluate_checkpoint(cfg, checkpoint, run_dir, data_root)
    metrics = dict(
        seed=seed,
        iters=0,
        val_interval=None,
        train_s=0.0,
        s_per_iter=None,
        eval_s=time.perf_counter() - start,
        checkpoint=osp.basename(checkpoint),
        provenance=where,
        **out)
    with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    return finished_run(run_dir, config, 0)


def evaluate_checkpoint(cfg,
                        checkpoint: str,
                        work_dir: str,
                        data_root: Optional[str] = None) -> Dict[str, float]:
    """Validation metrics of ``checkpoint`` under ``cfg`` (a Config; its
    ``model.test_cfg`` decides e.g. the ICNet exit), with mmengine's
    Runner and the config's own val pipeline and evaluator."""
    import copy

    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    use_bn_without_cuda(cfg)
    if data_root is not None:
        set_data_root(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    return {k: float(v) for k, v in runner.val().items()}


def paired_differences(a: Sequence[float],
                       b: Sequence[float]) -> List[float]:
    """``a[i] - b[i]`` for runs paired by seed (equal lengths)."""
    if len(a) != len(b):
        raise ValueError(f'paired runs need equal lengths, got {len(a)} '
                         f'and {len(b)}')
    return [x - y for x, y in zip(a, b)]


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for one value)."""
    import statistics
    values = list(values)
    return dict(
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else 0.0,
        n=len(values))


def format_mean_std(mean: float, std: float, n: int) -> str:
    """``'mean ± std'`` over ``n`` runs, or ``'mean'`` alone for one run
    (a spread over one seed would read as "no spread")."""
    return f'{mean:.2f} ± {std:.2f}' if n > 1 else f'{mean:.2f}'


def format_difference(values: Sequence[float],
                      digits: int = 2,
                      unit: str = '') -> str:
    """Signed ``'mean ± std'`` of per-seed paired quantities (differences,
    shares of a gap), or ``'mean (1 seed)'`` for one seed.

    Args:
        values: one value per seed.
        digits: decimals of mean and std.
        unit: appended to the figures (e.g. ``' %'``).

    Returns:
        str: e.g. ``'+0.06 ± 0.35'``, ``'+3 ± 15 %'``, ``'-1.53 (1 seed)'``.
    """
    stats = mean_std(values)
    mean = f'{stats["mean"]:+.{digits}f}'
    if stats['n'] > 1:
        return f'{mean} ± {stats["std"]:.{digits}f}{unit}'
    return f'{mean}{unit} (1 seed)'


def final_training_losses(run_dir: str,
                          last_fraction: float = 0.2) -> Dict[str, float]:
    """Mean of each logged loss term over the last ``last_fraction`` of a
    run's training iterations, read from mmengine's text log in
    ``run_dir/<timestamp>/<timestamp>.log`` (the newest one that logged
    training).

    Returns:
        dict: ``{'decode.loss_ce': ..., 'sisr.loss_sr': ..., ...}`` (the
        logged, i.e. weighted, values; ``loss`` is their sum); empty when no
        training iteration was logged.
    """
    import glob
    import re
    if not 0 < last_fraction <= 1:
        raise ValueError(f'last_fraction must be in (0, 1], got '
                         f'{last_fraction}')
    line_re = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\](.*)$')
    pair_re = re.compile(r'(\S*loss\S*):\s+(-?[\d.]+(?:e[-+]?\d+)?)')
    for log in sorted(glob.glob(osp.join(run_dir, '*', '*.log')),
                      reverse=True):
        records = []
        with open(log) as f:
            for line in f:
                match = line_re.search(line)
                if match:
                    it, total, rest = match.groups()
                    records.append((int(it), int(total),
                                    dict((k, float(v))
                                         for k, v in pair_re.findall(rest))))
        if not records:
            continue
        total = records[-1][1]
        first = total - last_fraction * total
        sums: Dict[str, List[float]] = {}
        for it, _, losses in records:
            if it > first:
                for k, v in losses.items():
                    sums.setdefault(k, []).append(v)
        return {k: sum(v) / len(v) for k, v in sums.items()}
    return {}
