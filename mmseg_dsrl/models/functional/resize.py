"""Image resizing used by the resolution-reduced segmentors."""
import math
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'scaled_size', 'downsample_image', 'resize_then_avg_pool',
    'antialiased_matrix', 'StridedFilter', 'antialiased_as_strided_filter'
]


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


def antialiased_matrix(in_size: int, out_size: int,
                       dtype: torch.dtype = torch.float64) -> Tensor:
    """(out_size, in_size) matrix of PyTorch's 1-D anti-aliased linear
    resizing (``align_corners=False``), built by applying it to the unit
    vectors: ``downsample_image`` is this matrix on the rows and on the
    columns."""
    # The identity as one image, resized along its height only (a width
    # kept as it is is copied exactly).
    eye = torch.eye(in_size, dtype=torch.float32)[None, None]
    rows = F.interpolate(eye, size=(out_size, in_size), mode='bilinear',
                         align_corners=False, antialias=True)
    return rows[0, 0].to(dtype)


class StridedFilter(NamedTuple):
    """1-D resizing as ``scale * conv1d(x, weight, stride, padding)``:
    ``padding`` is (before, after), ``scale`` one factor per output."""
    weight: Tensor
    stride: int
    padding: Tuple[int, int]
    scale: Tensor


def antialiased_as_strided_filter(in_size: int, out_size: int,
                                  tol: float = 1e-6
                                  ) -> Optional[StridedFilter]:
    """PyTorch's anti-aliased downsampling from ``in_size`` to
    ``out_size`` as a fixed filter with a stride (and a border
    renormalisation), when it is one: an integer factor. The result is
    checked against :func:`antialiased_matrix`; None where they differ by
    more than ``tol`` (another factor), so callers fall back to the
    matrix."""
    if out_size >= in_size or in_size % out_size:
        return None
    stride = in_size // out_size
    matrix = antialiased_matrix(in_size, out_size)
    spans = [(int(row.nonzero().min()), int(row.nonzero().max()))
             for row in matrix]
    widest = max(range(out_size), key=lambda i: spans[i][1] - spans[i][0])
    first, last = spans[widest]
    weight = matrix[widest, first:last + 1]
    before = stride * widest - first
    after = (out_size - 1) * stride + len(weight) - in_size - before
    if before < 0 or after < 0:
        return None
    padded = F.pad(torch.eye(in_size, dtype=matrix.dtype)[:, None],
                   (before, after))
    raw = F.conv1d(padded, weight[None, None], stride=stride)[:, 0].t()
    scale = 1 / raw.sum(1)
    if not torch.allclose(raw * scale[:, None], matrix, atol=tol, rtol=0):
        return None
    return StridedFilter(weight, stride, (before, after), scale)
