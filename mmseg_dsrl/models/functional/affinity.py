"""Feature affinity (DSRL, CVPR 2020) as pure tensor math.

Shape shorthand:
    B: batch size, C/C1/C2: channels, H, W: spatial size,
    N = H * W: number of positions after subsampling.

The affinity of a feature map ``F`` (C x N) is the N x N matrix
``S_ij = (F_i / ||F_i||_p)^T (F_j / ||F_j||_p)``. The FA distance between two
maps with the same N is ``1/N^2 * sum_ij |S^a_ij - S^b_ij|^q``.

At DSRL's Cityscapes setting N = 32768, so one S is 4 GiB per image. The
functions here never materialise S for a whole batch:

* ``q == 1`` is accumulated over row blocks of S by
  :class:`_BlockedL1AffinityDistance`, whose backward recomputes each block
  (memory O(block_size * N)); the result is exact, not an approximation.
* ``q == 2`` uses the identity
  ``||A^T A - B^T B||_F^2 = ||A A^T||_F^2 + ||B B^T||_F^2 - 2 ||A B^T||_F^2``,
  which only needs C x C Gram matrices.

:func:`naive_affinity_distance` builds the full matrices and is the
obviously-correct reference the tests compare against.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'feature_affinity', 'normalize_positions', 'affinity_distance',
    'naive_affinity_distance'
]


def _check_pair(feat_a: Tensor, feat_b: Tensor) -> None:
    if feat_a.dim() != 4 or feat_b.dim() != 4:
        raise ValueError('feature affinity expects two (B, C, H, W) tensors, '
                         f'got shapes {tuple(feat_a.shape)} and '
                         f'{tuple(feat_b.shape)}')
    if feat_a.shape[0] != feat_b.shape[0]:
        raise ValueError('feature affinity expects the same batch size, got '
                         f'{feat_a.shape[0]} and {feat_b.shape[0]}')
    if feat_a.shape[2:] != feat_b.shape[2:]:
        raise ValueError(
            'feature affinity compares positions one to one, so both maps '
            'must have the same spatial size; got '
            f'{tuple(feat_a.shape[2:])} and {tuple(feat_b.shape[2:])}. '
            'Resize or subsample them to a common size first.')


def normalize_positions(feat: Tensor,
                        p: float = 2.0,
                        eps: float = 1e-12) -> Tensor:
    """Flatten a feature map to positions and p-normalise each position.

    Args:
        feat (Tensor): Feature map, shape (B, C, H, W).
        p (float): Norm order of the per-position normalisation.
        eps (float): Lower bound of the norm, avoids division by zero.

    Returns:
        Tensor: Normalised features, shape (B, C, N).
    """
    return F.normalize(feat.flatten(2), p=p, dim=1, eps=eps)


def feature_affinity(feat: Tensor, p: float = 2.0) -> Tensor:
    """Full affinity matrix of a feature map (for small inputs and tests).

    Args:
        feat (Tensor): Feature map, shape (B, C, H, W).
        p (float): Norm order of the per-position normalisation.

    Returns:
        Tensor: Affinity, shape (B, N, N); symmetric, with unit diagonal for
        p = 2 and non-zero positions.
    """
    if feat.dim() != 4:
        raise ValueError(f'expected a (B, C, H, W) tensor, got shape '
                         f'{tuple(feat.shape)}')
    normed = normalize_positions(feat, p)
    return normed.transpose(1, 2) @ normed


def naive_affinity_distance(feat_a: Tensor,
                            feat_b: Tensor,
                            p: float = 2.0,
                            q: float = 1.0) -> Tensor:
    """Reference FA distance that materialises both N x N matrices.

    Args:
        feat_a (Tensor): Shape (B, C1, H, W).
        feat_b (Tensor): Shape (B, C2, H, W).
        p (float): Norm order of the per-position normalisation.
        q (float): Exponent of the element-wise distance.

    Returns:
        Tensor: Per-sample distance, shape (B,).
    """
    _check_pair(feat_a, feat_b)
    n = feat_a.shape[2] * feat_a.shape[3]
    diff = feature_affinity(feat_a, p) - feature_affinity(feat_b, p)
    return diff.abs().pow(q).sum(dim=(1, 2)) / n**2


class _BlockedL1AffinityDistance(torch.autograd.Function):
    """sum_ij |A^T A - B^T B|_ij per sample, in row blocks of the N x N map.

    Both inputs are already normalised, shapes (B, C1, N) and (B, C2, N).
    With G = sign(A^T A - B^T B) (symmetric), the gradients are
    ``dA = 2 A G`` and ``dB = -2 B G``; backward recomputes G block by block.
    """

    @staticmethod
    def _row_blocks(n: int, block_size: int):
        for start in range(0, n, block_size):
            yield start, min(start + block_size, n)

    @staticmethod
    def _block_diff(a: Tensor, b: Tensor, start: int, stop: int) -> Tensor:
        # (B, rows, N) block of A^T A - B^T B, computed in one buffer.
        diff = a[:, :, start:stop].transpose(1, 2) @ a
        return diff.baddbmm_(b[:, :, start:stop].transpose(1, 2), b, alpha=-1)

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, block_size: int) -> Tensor:
        ctx.save_for_backward(a, b)
        ctx.block_size = block_size
        total = a.new_zeros(a.shape[0])
        for start, stop in _BlockedL1AffinityDistance._row_blocks(
                a.shape[2], block_size):
            diff = _BlockedL1AffinityDistance._block_diff(a, b, start, stop)
            total += diff.abs_().sum(dim=(1, 2))
        return total

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tuple[Tensor, Tensor, None]:
        a, b = ctx.saved_tensors
        grad_a = torch.empty_like(a) if ctx.needs_input_grad[0] else None
        grad_b = torch.empty_like(b) if ctx.needs_input_grad[1] else None
        scale = (2 * grad_out).view(-1, 1, 1)
        for start, stop in _BlockedL1AffinityDistance._row_blocks(
                a.shape[2], ctx.block_size):
            sign = _BlockedL1AffinityDistance._block_diff(
                a, b, start, stop).sign_()  # (B, rows, N) = G[start:stop]
            # G is symmetric: columns start:stop of A G are A @ G_block^T.
            if grad_a is not None:
                grad_a[:, :, start:stop] = (a @ sign.transpose(1, 2)) * scale
            if grad_b is not None:
                grad_b[:, :, start:stop] = (b @ sign.transpose(1, 2)) * -scale
        return grad_a, grad_b, None


def _gram_l2_distance(a: Tensor, b: Tensor) -> Tensor:
    """sum_ij (A^T A - B^T B)_ij^2 through C x C Gram matrices."""
    aa = (a @ a.transpose(1, 2)).square().sum(dim=(1, 2))
    bb = (b @ b.transpose(1, 2)).square().sum(dim=(1, 2))
    ab = (a @ b.transpose(1, 2)).square().sum(dim=(1, 2))
    return aa + bb - 2 * ab


def affinity_distance(feat_a: Tensor,
                      feat_b: Tensor,
                      p: float = 2.0,
                      q: float = 1.0,
                      block_size: int = 256) -> Tensor:
    """Exact, memory-bounded FA distance between two feature maps.

    Args:
        feat_a (Tensor): Shape (B, C1, H, W).
        feat_b (Tensor): Shape (B, C2, H, W); C2 may differ from C1.
        p (float): Norm order of the per-position normalisation (2: cosine).
        q (float): Exponent of the element-wise distance; 1 (the paper's
            default) or 2.
        block_size (int): Rows of the N x N difference held at once for
            q = 1; peak extra memory is about ``B * block_size * N`` floats.

    Returns:
        Tensor: Per-sample distance ``1/N^2 sum_ij |S^a_ij - S^b_ij|^q``,
        shape (B,), in float32 (float64 for float64 inputs) also under
        mixed precision.
    """
    _check_pair(feat_a, feat_b)
    if q not in (1, 2):
        raise ValueError(f'q must be 1 or 2 (exact memory-bounded forms '
                         f'exist for these), got {q}')
    if block_size < 1:
        raise ValueError(f'block_size must be >= 1, got {block_size}')
    n = feat_a.shape[2] * feat_a.shape[3]
    # At least float32, outside autocast: a float16 sum over one block of
    # N x N entries overflows (inf for N of a few thousand), and autocast
    # would hand the in-place accumulation operands of mixed dtypes.
    dtype = torch.promote_types(
        torch.promote_types(feat_a.dtype, feat_b.dtype), torch.float32)
    with torch.autocast(device_type=feat_a.device.type, enabled=False):
        a = normalize_positions(feat_a.to(dtype), p)
        b = normalize_positions(feat_b.to(dtype), p)
        if q == 1:
            total = _BlockedL1AffinityDistance.apply(a, b, block_size)
        else:
            total = _gram_l2_distance(a, b)
    return total / n**2
