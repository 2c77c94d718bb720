"""Adaptive average pooling as two matrix products (exact, ONNX-exportable).

Shape shorthand: B batch, C channels, H, W input size, h, w output size.

``adaptive_avg_pool2d`` averages, for output row i, the input rows
``[floor(i * H / h), ceil((i + 1) * H / h))`` (and likewise for columns).
That is a fixed (h x H) averaging matrix ``P_h``, so the pooled map is
``P_h @ X @ P_w^T``. For a given input size the matrices are constants: an
exported graph holds them as MatMul initialisers (like the fixed pooling
kernels of ICNet's released model) and needs no adaptive pooling operator,
which ONNX only supports when the sizes divide.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = ['adaptive_pool_matrix', 'adaptive_avg_pool2d_matmul']


def adaptive_pool_matrix(in_size: int,
                         out_size: int,
                         dtype: torch.dtype = torch.float32,
                         device=None) -> Tensor:
    """(out_size x in_size) matrix of PyTorch's adaptive average pooling."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f'sizes must be >= 1, got in_size={in_size}, '
                         f'out_size={out_size}')
    matrix = torch.zeros(out_size, in_size, dtype=dtype, device=device)
    for i in range(out_size):
        start = (i * in_size) // out_size
        stop = -((-(i + 1) * in_size) // out_size)  # ceil
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


def adaptive_avg_pool2d_matmul(x: Tensor, output_size: Tuple[int,
                                                             int]) -> Tensor:
    """Same result as ``F.adaptive_avg_pool2d(x, output_size)``.

    Args:
        x (Tensor): Shape (B, C, H, W).
        output_size (tuple[int, int]): (h, w).

    Returns:
        Tensor: Shape (B, C, h, w).
    """
    h, w = int(x.shape[2]), int(x.shape[3])
    ph = adaptive_pool_matrix(h, output_size[0], x.dtype, x.device)
    pw = adaptive_pool_matrix(w, output_size[1], x.dtype, x.device)
    return torch.matmul(torch.matmul(ph, x), pw.t())
