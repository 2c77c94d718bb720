"""Label-map resampling for losses at reduced resolution."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

__all__ = ['downsample_label']


def downsample_label(label: Tensor, size: Sequence[int]) -> Tensor:
    """Nearest-neighbour resampling of a label map.

    Every output pixel copies one input pixel, so class indices and the
    ignore index (e.g. 255) survive exactly; nothing is interpolated.

    Args:
        label (Tensor): Integer labels, shape (B, 1, H, W).
        size (Sequence[int]): Output (h, w).

    Returns:
        Tensor: Labels of shape (B, 1, h, w), same dtype.
    """
    if label.dim() != 4 or label.shape[1] != 1:
        raise ValueError(f'label must have shape (B, 1, H, W), got '
                         f'{tuple(label.shape)}')
    if tuple(label.shape[2:]) == tuple(size):
        return label
    return F.interpolate(
        label.float(), size=tuple(size), mode='nearest').to(label.dtype)
