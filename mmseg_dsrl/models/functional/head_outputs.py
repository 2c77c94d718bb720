"""Normalise what mmseg backbones and heads return, once, at the boundary.

mmseg's modules return several structures:

* backbones/necks: a tuple of feature maps; one tensor (DDRNet, PIDNet at
  inference); ``[feature, cls_token]`` pairs (ViT with
  ``output_cls_token``);
* decode heads: one class-score map; a tuple of maps (DAHead's three
  attention outputs, DDRHead / PIDHead's auxiliary branches), a tuple with
  non-spatial outputs (EncHead's ``(seg, se)``, where ``se`` is a
  (B, K) vector) or a per-stage list (K-Net's iterative head).

DSRL needs "a list of 4-D feature maps" from the backbone and "every
class-score map" from a head; these functions give exactly that and leave
every other part of a structure untouched.
"""
from typing import Any, Callable, List, Sequence

from torch import Tensor

__all__ = [
    'describe_structure', 'feature_map', 'feature_maps', 'is_score_map',
    'map_score_maps', 'score_maps'
]


def feature_map(output: Any) -> Tensor:
    """The spatial feature map of one backbone/neck output.

    Args:
        output: A (B, C, H, W) tensor, or a sequence whose first 4-D tensor
            is the map (ViT's ``[feature, cls_token]``).

    Returns:
        Tensor: The (B, C, H, W) map.
    """
    if isinstance(output, Tensor):
        if output.dim() != 4:
            raise ValueError(f'expected a (B, C, H, W) feature map, got a '
                             f'tensor of shape {tuple(output.shape)}')
        return output
    if isinstance(output, (list, tuple)):
        for item in output:
            if isinstance(item, Tensor) and item.dim() == 4:
                return item
    raise ValueError(
        'expected a (B, C, H, W) feature map or a sequence holding one '
        f'(e.g. [feature, cls_token]), got {describe_structure(output)}')


def feature_maps(outputs: Any) -> List[Tensor]:
    """Backbone/neck outputs as a list of (B, C, H, W) maps.

    One tensor becomes a one-element list; each element of a sequence goes
    through :func:`feature_map`.
    """
    if isinstance(outputs, Tensor):
        return [feature_map(outputs)]
    return [feature_map(o) for o in outputs]


def is_score_map(x: Any, num_channels: int) -> bool:
    """Whether ``x`` is a (B, num_channels, H, W) class-score map."""
    return isinstance(x, Tensor) and x.dim() == 4 and \
        x.shape[1] == num_channels


def map_score_maps(outputs: Any, fn: Callable[[Tensor], Tensor],
                   num_channels: int) -> Any:
    """Apply ``fn`` to every class-score map in a head's output.

    Tensors, tuples and lists are walked recursively and rebuilt with the
    same types; anything that is not a (B, num_channels, H, W) tensor (a
    (B, K) SE vector, a boundary map with another channel count, ``None``)
    is returned as it is.
    """
    if is_score_map(outputs, num_channels):
        return fn(outputs)
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(
            map_score_maps(o, fn, num_channels) for o in outputs)
    return outputs


def score_maps(outputs: Any, num_channels: int) -> List[Tensor]:
    """Every class-score map in a head's output, in depth-first order."""
    found: List[Tensor] = []
    map_score_maps(outputs, lambda t: found.append(t) or t, num_channels)
    return found


def describe_structure(x: Any) -> str:
    if isinstance(x, Tensor):
        return f'a tensor of shape {tuple(x.shape)}'
    if isinstance(x, Sequence) and not isinstance(x, str):
        inner = ', '.join(describe_structure(i) for i in x)
        return f'{type(x).__name__}[{inner}]'
    return type(x).__name__
