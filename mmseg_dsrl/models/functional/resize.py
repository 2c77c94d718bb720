"""Image resizing used by the resolution-reduced segmentors."""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['scaled_size', 'downsample_image', 'resize_then_avg_pool']


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


def _resize_pool_matrix(in_size: int, resized: int, kernel: int,
                        align_corners: bool, dtype: torch.dtype,
                        device) -> Tensor:
    """(out, in_size) matrix of 1-D linear resizing to ``resized`` followed
    by average pooling by ``kernel`` (ceil mode), built by applying exactly
    those operators to the unit vectors."""
    eye = torch.eye(in_size, dtype=dtype, device=device)[:, None]
    resized_rows = F.interpolate(
        eye, size=resized, mode='linear', align_corners=align_corners)
    pooled = F.avg_pool1d(resized_rows, kernel, kernel, ceil_mode=True)
    return pooled[:, 0].t()


def resize_then_avg_pool(x: Tensor, size: Tuple[int, int], kernel: int,
                         align_corners: bool = False) -> Tensor:
    """``avg_pool2d(interpolate(x, size, bilinear), kernel, ceil_mode=True)``
    without the resized map.

    Both operators are separable and linear, so their composition is
    ``M_h @ x @ M_w^T`` with small constant matrices: the FA loss brings
    the SSSR scores to the HR size only to pool them by 8 right after, and
    this skips the HR tensor (and its backward). Same result up to float
    rounding (tested).

    Args:
        x (Tensor): Shape (B, C, h, w).
        size (tuple[int, int]): (H, W) of the bilinear resize.
        kernel (int): Pooling window and stride.
        align_corners (bool): As in ``F.interpolate``.

    Returns:
        Tensor: Shape (B, C, ceil(H / kernel), ceil(W / kernel)).
    """
    rows = _resize_pool_matrix(x.shape[2], size[0], kernel, align_corners,
                               x.dtype, x.device)
    cols = _resize_pool_matrix(x.shape[3], size[1], kernel, align_corners,
                               x.dtype, x.device)
    return rows @ x @ cols.t()
