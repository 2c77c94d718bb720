"""The arms of a pruning study: pruning schedules crossed with
fine-tuning learning rates, and the narrower model trained from scratch
that a pruned model is compared with."""
from typing import List, Sequence

from mmengine.config import Config


def narrower_width_options(cfg: Config, keep: float) -> dict:
    """Config overrides for the model at ``keep`` of its width: the
    backbone's width multiplier and the heads' input channels scaled."""
    model = cfg.model
    options = {
        'model.backbone.width_multiplier':
        model.backbone.width_multiplier * keep,
        'model.decode_head.in_channels':
        int(model.decode_head.in_channels * keep),
    }
    for i, head in enumerate(model.get('auxiliary_head') or []):
        options[f'model.auxiliary_head.{i}.in_channels'] = int(
            head.in_channels * keep)
    return options


def pruning_arms(progressive_steps: Sequence[float], keep: float,
                 lr_scale: float,
                 extra_lr_scales: Sequence[float] = ()) -> List[tuple]:
    """``(name, keep ratios, fine-tuning LR scale)`` of every pruning arm:
    progressive (``progressive_steps``, ending at ``keep``) and one-shot at
    ``lr_scale``, then both again at each of ``extra_lr_scales``."""
    if progressive_steps[-1] != keep:
        raise ValueError(f'the progressive steps must end at keep {keep}, '
                         f'got {list(progressive_steps)}')
    schedules = [
        ('progressive ' + ' -> '.join(map(str, progressive_steps)),
         list(progressive_steps)),
        (f'one-shot {keep}', [keep]),
    ]
    arms = [(name, steps, lr_scale)
            for name, steps in schedules]
    for scale in extra_lr_scales:
        arms += [(f'{name}, fine-tune LR x{scale:g}', steps, scale)
                 for name, steps in schedules]
    return arms
