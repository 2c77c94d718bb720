"""Train-then-evaluate runs shared by the recipe scripts under tools/."""
import time
from typing import Dict, Optional, Sequence

from .config_utils import load_config, use_bn_without_cuda


def set_data_root(cfg, data_root: str) -> None:
    """Point the train/val/test datasets of ``cfg`` at ``data_root``."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader in cfg:
            cfg[loader].dataset.data_root = data_root


def shorten_schedule(cfg, iters: int) -> None:
    """Train for ``iters`` iterations, validate and checkpoint at the end,
    and squeeze the LR schedule into the new length."""
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.interval = iters
    old = max(s.get('end', 0) for s in cfg.param_scheduler) or iters
    for sched in cfg.param_scheduler:
        sched.begin = int(sched.get('begin', 0) * iters / old)
        sched.end = max(sched.begin + 1,
                        int(sched.get('end', old) * iters / old))


def train_and_evaluate(config: str,
                       work_dir: str,
                       data_root: Optional[str] = None,
                       iters: Optional[int] = None,
                       seed: int = 0,
                       cfg_options: Optional[Dict] = None,
                       log_level: str = 'INFO') -> Dict:
    """Train ``config`` with mmengine's Runner, then validate.

    Returns:
        dict: ``metrics`` (the validation metrics), ``train_s`` (training
        wall time), ``model`` (the trained model, with ``model.cfg`` set
        like ``mmseg.apis.init_model`` does) and ``checkpoint``.
    """
    from mmengine.runner import Runner
    cfg = load_config(config, cfg_options)
    use_bn_without_cuda(cfg)
    if data_root is not None:
        set_data_root(cfg, data_root)
    if iters is not None:
        shorten_schedule(cfg, iters)
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.log_level = log_level
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    metrics = {k: float(v) for k, v in runner.val().items()}
    # As mmseg.apis.init_model does, so inference_model() takes the model.
    runner.model.cfg = cfg
    return dict(
        metrics=metrics,
        train_s=train_s,
        model=runner.model,
        checkpoint=f'{work_dir}/iter_{cfg.train_cfg.max_iters}.pth')


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
