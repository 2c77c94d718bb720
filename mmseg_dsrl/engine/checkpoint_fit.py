"""How well a checkpoint fits a model, said plainly.

:func:`checkpoint_fit` compares a state_dict with a model's (after the keys
the model's modules move on load, e.g. a DSRL model's SSSR head taking its
plain head's keys): the keys loaded, the model's weights the checkpoint
leaves unset (and which of them inference uses), the checkpoint's weights
the model lacks, and weights of another shape; :meth:`CheckpointFit.describe`
says it in a few lines with what the checkpoint probably is (an LR
baseline's under a DSRL config, a checkpoint for another class count, ...).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from torch import nn

__all__ = [
    'CheckpointFit', 'checkpoint_fit', 'as_the_model_loads_it',
    'summarise_keys',
    'TRAINING_ONLY_PREFIXES'
]

#: Module paths whose weights inference never uses (SISR, FA's transform,
#: auxiliary heads, an HR teacher): a checkpoint without them still
#: predicts what it was trained to.
TRAINING_ONLY_PREFIXES = ('sisr_head.', 'auxiliary_head.', 'hr_teacher.')
_TRAINING_ONLY_PARTS = ('.fa_transform.', )


def _training_only(key: str) -> bool:
    return key.startswith(TRAINING_ONLY_PREFIXES) or any(
        p in key for p in _TRAINING_ONLY_PARTS)


def summarise_keys(keys: List[str], limit: int = 3) -> str:
    """``'N (a, b, c, ...)'``: a count and the first names."""
    shown = ', '.join(keys[:limit])
    return f'{len(keys)} ({shown}{", ..." if len(keys) > limit else ""})'


@dataclass
class CheckpointFit:
    """The comparison of a checkpoint's state_dict with a model's."""
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    #: key -> (checkpoint's shape, model's shape)
    mismatched: Dict[str, Tuple[tuple, tuple]] = field(default_factory=dict)

    @property
    def missing_for_inference(self) -> List[str]:
        """Unset weights that prediction uses."""
        return [k for k in self.missing if not _training_only(k)]

    @property
    def complete_for_inference(self) -> bool:
        return not self.missing_for_inference and not self.mismatched

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def likely_cause(self) -> str:
        """What the checkpoint probably is, from the keys that differ."""
        unset = self.missing_for_inference
        if unset and all('.upsample.' in k for k in unset):
            return ('an LR-baseline checkpoint (or another model without '
                    'DSRL): the SSSR deconvolutions are not in it, so they '
                    'keep their initialisation (the resize they replace)')
        if unset and all(k.split('.')[-2] in ('conv_seg', 'classifier')
                         for k in unset) and not self.mismatched:
            return ('a checkpoint without the classifier (a backbone or '
                    "'edgenets-no-classifier://' file): the classifier "
                    'keeps its initialisation')
        classifier = [k for k in self.mismatched
                      if k.split('.')[-2] in ('conv_seg', 'classifier')]
        if classifier:
            have, want = self.mismatched[classifier[0]]
            return (f'a checkpoint for {have[0]} classes; the model has '
                    f'{want[0]}: its classifier is not loaded (set the '
                    'num_classes of the heads and the dataset to the '
                    "checkpoint's, or fine-tune from it with load_from)")
        nested = [k for k in self.unexpected if '.head.' in k and
                  k.replace('.head.', '.', 1) in self.missing]
        dsrl_only = [k for k in self.unexpected
                     if k.startswith('sisr_head.') or '.upsample.' in k
                     or '.fa_transform.' in k]
        if self.unexpected and len(nested) + len(dsrl_only) == len(
                self.unexpected):
            return ('a DSRL checkpoint loaded into a model without DSRL: '
                    + ('its decode head is stored under '
                       "'decode_head.head.' and is not loaded; use the DSRL "
                       'config it was trained with' if nested else
                       'its SSSR / SISR weights are not used'))
        if self.missing_for_inference and not self.loaded:
            return 'a checkpoint of another architecture'
        return 'a checkpoint of a model that differs from this config'

    def describe(self) -> str:
        """Counts, the first names and the likely cause, in a few lines."""
        lines = [f'checkpoint vs. model: {len(self.loaded)} keys loaded']
        if self.missing:
            lines.append(
                f'  model weights the checkpoint leaves unset: '
                f'{summarise_keys(self.missing)}, '
                f'{len(self.missing_for_inference)} of them used by inference')
        if self.mismatched:
            shapes = [f'{k} {tuple(a)} vs. {tuple(b)}'
                      for k, (a, b) in self.mismatched.items()]
            lines.append('  weights of another shape (checkpoint vs. '
                         f'model), not loaded: {summarise_keys(shapes, 2)}')
        if self.unexpected:
            lines.append('  checkpoint weights the model lacks: '
                         f'{summarise_keys(self.unexpected)}')
        if not self.exact:
            lines.append(f'  probably {self.likely_cause()}')
        return '\n'.join(lines)


def as_the_model_loads_it(model: nn.Module, state_dict: dict) -> dict:
    """``state_dict`` with the keys that modules move on load moved (a DSRL
    model's SSSR heads take their plain head's keys)."""
    from mmseg_dsrl.models.decode_heads.sssr_head import SSSRHead
    heads = [name for name, m in model.named_modules()
             if isinstance(m, SSSRHead)]
    if not heads:
        return state_dict
    state_dict = dict(state_dict)
    for name in heads:
        SSSRHead.move_plain_head_keys(state_dict, f'{name}.')
    return state_dict


def checkpoint_fit(model: nn.Module, state_dict: dict) -> CheckpointFit:
    """Compare ``state_dict`` with ``model``'s, as loading would see it.

    Args:
        model (nn.Module): The model (wrappers and TTA models: the segmentor
            they hold).
        state_dict (dict): The checkpoint's weights.

    Returns:
        CheckpointFit: what loads, what stays unset, what is left over.
    """
    from mmengine.model import BaseTTAModel, is_model_wrapper

    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    state_dict = as_the_model_loads_it(model, state_dict)
    own = {k: v for k, v in model.state_dict().items()
           if 'num_batches_tracked' not in k}
    given = {k: v for k, v in state_dict.items()
             if 'num_batches_tracked' not in k}
    fit = CheckpointFit()
    for key, value in own.items():
        if key not in given:
            fit.missing.append(key)
        elif tuple(given[key].shape) != tuple(value.shape):
            fit.mismatched[key] = (tuple(given[key].shape),
                                   tuple(value.shape))
        else:
            fit.loaded.append(key)
    fit.unexpected = sorted(set(given) - set(own))
    fit.missing.sort()
    return fit
