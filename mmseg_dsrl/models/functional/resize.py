"""Image resizing used by the resolution-reduced segmentors."""
import math
from typing import Tuple

import torch.nn.functional as F
from torch import Tensor

__all__ = ['scaled_size', 'downsample_image']


def scaled_size(size: Tuple[int, int], scale: float) -> Tuple[int, int]:
    """Size of an (H, W) image after scaling by ``scale``, rounded half up.

    ``float()`` makes it work on traced shapes too (jit tracing, FLOP
    counting), where the sizes are 0-d tensors.
    """
    return tuple(
        max(1, int(math.floor(float(s) * scale + 0.5))) for s in size[:2])


def downsample_image(images: Tensor, scale: float) -> Tensor:
    """Anti-aliased bilinear downsampling of a batch of images.

    Args:
        images (Tensor): Shape (B, C, H, W).
        scale (float): Factor in (0, 1]; 1 returns ``images`` unchanged.

    Returns:
        Tensor: Shape (B, C, round(H * scale), round(W * scale)).
    """
    if not 0 < scale <= 1:
        raise ValueError(f'scale must be in (0, 1], got {scale}')
    if scale == 1:
        return images
    return F.interpolate(
        images,
        size=scaled_size(images.shape[2:], scale),
        mode='bilinear',
        align_corners=False,
        antialias=True)
