"""Progressive (or one-shot) L1 filter pruning with fine-tuning, as an API.

``tools/compression/prune.py`` is the command line over
:func:`prune_and_finetune`; recipes and tests call the function.
"""
import copy
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.config import Config
from torch import nn

from .l1_filter_pruning import prune_filters_l1

#: Fine-tuning budget as a fraction of the config's training iterations,
#: split equally between the steps (see :func:`default_finetune_iters`).
FINETUNE_FRACTION = 0.6


def default_finetune_iters(cfg: Config, num_steps: int) -> int:
    """Fine-tuning iterations of each step when none are given:
    :data:`FINETUNE_FRACTION` of ``cfg.train_cfg.max_iters``, split equally
    between ``num_steps`` steps (configs/icnet/README.md has the
    measurements behind the fraction).

    Args:
        cfg (Config): The trained model's config.
        num_steps (int): Number of pruning steps.

    Returns:
        int: Iterations per step, at least 1.
    """
    max_iters = cfg.get('train_cfg', {}).get('max_iters')
    if not max_iters:
        raise ValueError('the config has no train_cfg.max_iters to derive '
                         'the fine-tuning iterations from; pass '
                         'finetune_iters')
    return max(1, round(FINETUNE_FRACTION * max_iters / num_steps))


def check_pruning_request(checkpoint: str, work_dir: str,
                          steps: Sequence[float], finetune_iters: Optional[int],
                          finetune_lr_scale: float) -> None:
    """Reject every bad argument of :func:`prune_and_finetune` before any
    work is done (and before anything is written)."""
    if not steps:
        raise ValueError('steps must hold at least one keep ratio')
    for r in steps:
        if not 0 < r <= 1:
            raise ValueError(f'keep ratios must be in (0, 1], got {r}')
    if any(b >= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f'steps must be strictly decreasing (keep ratios '
                         f'of the original model), got {list(steps)}')
    if finetune_lr_scale <= 0:
        raise ValueError(
            f'finetune_lr_scale must be > 0, got {finetune_lr_scale}')
    if finetune_iters is not None and finetune_iters < 0:
        raise ValueError(f'finetune_iters must be >= 0, got {finetune_iters}')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} not found')
    if osp.isdir(work_dir) and os.listdir(work_dir):
        raise FileExistsError(f'work_dir {work_dir} is not empty; '
                              'choose a new folder')
    real_dir = osp.realpath(work_dir)
    if osp.commonpath([osp.realpath(checkpoint), real_dir]) == real_dir:
        raise ValueError('work_dir must not contain the input checkpoint')


def load_exact_checkpoint(model: nn.Module, path: str) -> None:
    """Load a checkpoint that must match the architecture exactly (a
    non-strict load would prune randomly initialised filters)."""
    from mmengine.runner import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(
        k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f'{path} does not belong to this config: '
            f'{len(missing)} missing keys (e.g. {missing[:3]}), '
            f'{len(unexpected)} unexpected (e.g. {unexpected[:3]}), '
            f'{len(wrong)} with other shapes (e.g. {wrong[:3]})')
    model.load_state_dict(state)


def count_parameters(model: nn.Module) -> Dict[str, float]:
    """The default measurement of each step: all parameters."""
    return dict(all_params=float(sum(p.numel() for p in model.parameters())))


def prune_and_finetune(
    cfg: Union[Config, str],
    checkpoint: str,
    work_dir: str,
    steps: Sequence[float] = (0.5, ),
    finetune_iters: Optional[int] = None,
    finetune_lr_scale: float = 1.0,
    trace_shape: Tuple[int, int] = (256, 512),
    measure: Optional[Callable[[nn.Module], Dict[str, float]]] = None,
) -> List[dict]:
    """Prune ``checkpoint`` step by step, fine-tuning after each step.

    For each keep ratio in ``steps`` (fractions of the ORIGINAL filter
    count, strictly decreasing), the filters with the smallest L1 norms are
    removed from every prunable convolution (:func:`prune_filters_l1`), the
    pruned checkpoint and a config that loads it are written, and the model
    is fine-tuned with the config's training pipeline; the next step starts
    from the fine-tuned weights. One step is one-shot pruning; ``(0.75,
    0.5)`` is ICNet's progressive schedule.

    Written under ``work_dir`` (new or empty; ``checkpoint`` is only read):
    ``step{k}/pruned.pth``, ``step{k}/config.py`` (a ``PrunedSegmentor``
    that mmseg's ``init_model``, ``tools/test.py`` and the FLOPs tools
    take like any config), ``step{k}/iter_N.pth`` and ``summary.json``.

    Args:
        cfg (Config | str): Config of the trained model (SyncBN should
            already be BN on a machine without CUDA).
        checkpoint (str): The trained weights; must match ``cfg`` exactly.
        work_dir (str): Output folder, new or empty.
        steps (Sequence[float]): Decreasing keep ratios in (0, 1].
        finetune_iters (int, optional): Fine-tuning iterations per step; 0
            skips fine-tuning. Defaults to :func:`default_finetune_iters`.
        finetune_lr_scale (float): Fraction of the config's learning rate
            used for fine-tuning. Defaults to 1.0.
        trace_shape (tuple[int, int]): Input H, W for tracing the graph.
        measure (callable, optional): ``model -> dict`` of figures recorded
            for the input and each step's final model (e.g. FLOPs); defaults
            to :func:`count_parameters`.

    Returns:
        list[dict]: One row per model (step 0 is the input): ``step``,
        ``keep``, ``checkpoint``, ``config`` (steps >= 1), the ``measure``
        figures and, when fine-tuned, the validation ``mIoU``.
    """
    from mmengine.runner import Runner, save_checkpoint

    from mmseg_dsrl.utils.inference_model import build_inference_model
    from mmseg_dsrl.utils.schedule import shorten_schedule
    steps = [float(s) for s in steps]
    check_pruning_request(checkpoint, work_dir, steps, finetune_iters,
                          finetune_lr_scale)
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    measure = measure or count_parameters
    if finetune_iters is None:
        finetune_iters = default_finetune_iters(cfg, len(steps))
    original_model_cfg = copy.deepcopy(cfg.model)
    model = build_inference_model(cfg)
    load_exact_checkpoint(model, checkpoint)
    summary = [dict(step=0, keep=1.0, checkpoint=checkpoint, **measure(model))]
    os.makedirs(work_dir, exist_ok=True)
    previous_keep = 1.0
    for k, keep in enumerate(steps, 1):
        step_dir = osp.abspath(osp.join(work_dir, f'step{k}'))
        os.makedirs(step_dir)
        prune_filters_l1(model, 1 - keep / previous_keep,
                         (1, 3) + tuple(trace_shape))
        pruned_path = osp.join(step_dir, 'pruned.pth')
        save_checkpoint(
            dict(
                state_dict=model.state_dict(),
                meta=dict(pruned_keep_ratio=keep)), pruned_path)
        step_cfg = copy.deepcopy(cfg)
        # data_preprocessor is given explicitly: mmengine's Runner would
        # otherwise add the config's top-level one (without the crop size).
        step_cfg.model = dict(
            type='PrunedSegmentor',
            model=original_model_cfg,
            shapes_from=pruned_path,
            data_preprocessor=original_model_cfg.get('data_preprocessor'))
        step_cfg.load_from = pruned_path
        step_cfg.resume = False
        step_cfg.work_dir = step_dir
        config_path = osp.join(step_dir, 'config.py')
        step_cfg.dump(config_path)
        model.eval()
        row = dict(step=k, keep=keep, config=config_path, **measure(model))
        final = pruned_path
        if finetune_iters > 0:
            shorten_schedule(step_cfg, finetune_iters)
            step_cfg.optim_wrapper.optimizer.lr *= finetune_lr_scale
            runner = Runner.from_cfg(step_cfg)
            runner.train()
            row['mIoU'] = float(runner.val()['mIoU'])
            final = osp.join(step_dir, f'iter_{finetune_iters}.pth')
            model = build_inference_model(step_cfg, final)
        row['checkpoint'] = final
        summary.append(row)
        previous_keep = keep
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


__all__ = [
    'FINETUNE_FRACTION', 'check_pruning_request', 'count_parameters',
    'default_finetune_iters', 'load_exact_checkpoint', 'prune_and_finetune'
]
