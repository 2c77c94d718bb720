"""Pyramid pooling of ICNet (PSPNet's module, summed as in ICNet's release)."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..functional import adaptive_avg_pool2d_matmul

_IMPLS = ('matmul', 'adaptive')


class PyramidPoolingSum(nn.Module):
    """``x + sum_b upsample(avgpool_b(x))`` over bins ``b`` (no parameters).

    The released ICNet adds the pooled maps to the input instead of
    concatenating them (PSPNet), which keeps the channel count.

    Args:
        bins (Sequence[int]): Output sizes of the poolings. Default
            (1, 2, 3, 6).
        pool_impl (str): 'matmul' (default): exact adaptive pooling by
            matrix products, exports to ONNX for any input size;
            'adaptive': ``F.adaptive_avg_pool2d`` (mmseg's PPM behaviour;
            same values, exports only when the sizes divide).
        align_corners (bool): Of the bilinear upsampling.
    """

    def __init__(self,
                 bins: Sequence[int] = (1, 2, 3, 6),
                 pool_impl: str = 'matmul',
                 align_corners: bool = False) -> None:
        super().__init__()
        if pool_impl not in _IMPLS:
            raise ValueError(f'pool_impl must be one of {_IMPLS}, got '
                             f'{pool_impl!r}')
        if not bins or any(int(b) != b or b < 1 for b in bins):
            raise ValueError(f'bins must be positive ints, got {bins!r}')
        self.bins = tuple(int(b) for b in bins)
        self.pool_impl = pool_impl
        self.align_corners = align_corners

    def pool(self, x: Tensor, b: int) -> Tensor:
        if self.pool_impl == 'matmul':
            return adaptive_avg_pool2d_matmul(x, (b, b))
        return F.adaptive_avg_pool2d(x, (b, b))

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for b in self.bins:
            out = out + F.interpolate(
                self.pool(x, b),
                size=x.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
        return out

    def extra_repr(self) -> str:
        return f'bins={self.bins}, pool_impl={self.pool_impl!r}'
