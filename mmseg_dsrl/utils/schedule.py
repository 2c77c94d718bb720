"""Rescaling a config's training schedule."""
from mmengine.config import Config


def shorten_schedule(cfg: Config, iters: int) -> None:
    """Train for ``iters`` iterations, validate and checkpoint at the end,
    and squeeze the LR schedule into the new length (in place).

    Args:
        cfg (Config): A config with ``train_cfg.max_iters``,
            ``default_hooks.checkpoint`` and ``param_scheduler``.
        iters (int): The new number of iterations, >= 1.
    """
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
