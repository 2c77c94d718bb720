"""Feature affinity (DSRL, CVPR 2020) as pure tensor math.

Shape shorthand:
    B: batch size, C/C1/C2: channels, H, W: spatial size,
    N = H * W: number of positions after subsampling.

The affinity of a feature map ``F`` (C x N) is the N x N matrix
``S_ij = (F_i / ||F_i||_p)^T (F_j / ||F_j||_p)``. The FA distance between two
maps with the same N is ``1/N^2 * sum_ij |S^a_ij - S^b_ij|^q``.

At DSRL's Cityscapes setting N = 32768, so one S is 4 GiB per image. The
functions here never materialise S for a whole batch:

* ``q == 1`` on CPU uses the fused kernel of :mod:`mmseg_dsrl.ops` when it
  is built (:class:`_FusedL1AffinityDistance`): each tile of S stays in
  registers, is reduced or multiplied by the features there and is never
  written to memory (memory O(N * C)). Otherwise, and on other devices,
  it is accumulated over row blocks of S by
  :class:`_BlockedL1AffinityDistance`, whose backward recomputes each block
  (memory O(block_size * N)): one matrix product per block forward and two
  backward, with a measured block size. Both are exact, not approximations.
* ``q == 2`` uses the identity
  ``||A^T A - B^T B||_F^2 = ||A A^T||_F^2 + ||B B^T||_F^2 - 2 ||A B^T||_F^2``,
  which only needs C x C Gram matrices.

:func:`naive_affinity_distance` builds the full matrices and is the
obviously-correct reference the tests compare against.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg_dsrl.ops import affinity_l1_cpu

__all__ = [
    'feature_affinity', 'normalize_positions', 'affinity_distance',
    'naive_affinity_distance', 'auto_block_size', 'fused_affinity_available'
]

#: Implementations of the q = 1 distance :func:`affinity_distance` accepts.
IMPLEMENTATIONS = ('auto', 'fused', 'blocked')


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
                        p: Optional[float] = 2.0,
                        eps: float = 1e-12) -> Tensor:
    """Flatten a feature map to positions and p-normalise each position.

    Args:
        feat (Tensor): Feature map, shape (B, C, H, W).
        p (float, optional): Norm order of the per-position normalisation;
            None flattens without normalising (un-normalised dot-product
            affinity, as public DSRL re-implementations compute it).
        eps (float): Lower bound of the norm, avoids division by zero.

    Returns:
        Tensor: Normalised features, shape (B, C, N).
    """
    if p is None:
        return feat.flatten(2)
    return F.normalize(feat.flatten(2), p=p, dim=1, eps=eps)


def feature_affinity(feat: Tensor, p: Optional[float] = 2.0) -> Tensor:
    """Full affinity matrix of a feature map (for small inputs and tests).

    Args:
        feat (Tensor): Feature map, shape (B, C, H, W).
        p (float, optional): Norm order of the per-position normalisation
            (None: un-normalised).

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
                            p: Optional[float] = 2.0,
                            q: float = 1.0) -> Tensor:
    """Reference FA distance that materialises both N x N matrices.

    Args:
        feat_a (Tensor): Shape (B, C1, H, W).
        feat_b (Tensor): Shape (B, C2, H, W).
        p (float, optional): Norm order of the per-position normalisation
            (None: un-normalised).
        q (float): Exponent of the element-wise distance.

    Returns:
        Tensor: Per-sample distance, shape (B,).
    """
    _check_pair(feat_a, feat_b)
    n = feat_a.shape[2] * feat_a.shape[3]
    diff = feature_affinity(feat_a, p) - feature_affinity(feat_b, p)
    return diff.abs().pow(q).sum(dim=(1, 2)) / n**2


#: Rows per block of the N x N difference on the CPU: the fastest of the
#: sizes tried by tools/analysis_tools/benchmark_fa_loss.py (measurements:
#: docs/experiments.md, "Block sizes of the blocked path"). Fewer rows make
#: more, smaller products; more rows write a block that leaves the cache
#: before the reduction reads it.
BLOCK_ROWS = 64

#: Bytes of one (B, rows, N) block on a GPU. There the cost is the number
#: of kernel launches, not the cache, so a GPU block is as large as this
#: budget allows (measurements: docs/experiments.md, the GPU check).
GPU_BLOCK_BYTES = 512 * 2**20


def auto_block_size(batch: int,
                    n: int,
                    itemsize: int = 4,
                    device_type: str = 'cpu') -> int:
    """Rows per block of the blocked FA distance.

    Args:
        batch (int): Batch size.
        n (int): Positions (rows of the N x N map).
        itemsize (int): Bytes per element.
        device_type (str): 'cpu': :data:`BLOCK_ROWS` (cache-sized,
            measured); any other device: as many rows as fit one
            (batch, rows, n) block in :data:`GPU_BLOCK_BYTES`, at least
            :data:`BLOCK_ROWS`.

    Returns:
        int: Rows, at most ``n``.
    """
    if device_type == 'cpu':
        return int(min(n, BLOCK_ROWS))
    rows = GPU_BLOCK_BYTES // max(1, batch * n * itemsize)
    return int(min(n, max(BLOCK_ROWS, rows)))


class _BlockedL1AffinityDistance(torch.autograd.Function):
    """sum_ij |A^T A - B^T B|_ij per sample, in row blocks of the N x N map.

    Both inputs are already normalised, shapes (B, C1, N) and (B, C2, N).
    With K = [A; B] and K- = [A; -B] (stacked channels), a row block of
    A^T A - B^T B is one product ``K[:, rows]^T K-`` (inner size C1 + C2)
    instead of two. With G = sign(A^T A - B^T B) (symmetric), the gradients
    are ``dA = 2 A G`` and ``dB = -2 B G``, i.e. the rows of ``2 K G`` with
    B's sign flipped: one product per block again; backward recomputes G.
    """

    @staticmethod
    def _row_blocks(n: int, block_size: int):
        for start in range(0, n, block_size):
            yield start, min(start + block_size, n)

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, block_size: int) -> Tensor:
        k = torch.cat([a, b], dim=1)  # (B, C1 + C2, N)
        k_minus = torch.cat([a, -b], dim=1)
        k_t = k.transpose(1, 2).contiguous()  # (B, N, C1 + C2)
        ctx.save_for_backward(k_t, k_minus)
        ctx.block_size = block_size
        ctx.c1 = a.shape[1]
        total = a.new_zeros(a.shape[0], dtype=torch.float64)
        for start, stop in _BlockedL1AffinityDistance._row_blocks(
                a.shape[2], block_size):
            diff = torch.bmm(k_t[:, start:stop], k_minus)  # (B, rows, N)
            # abs_ then sum, not vector_norm(ord=1): faster and more
            # accurate in float32 (docs/training_cost.md).
            total += diff.abs_().sum(dim=(1, 2))
        return total.to(a.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tuple[Tensor, Tensor, None]:
        k_t, k_minus = ctx.saved_tensors
        grad_k = torch.empty_like(k_minus)  # (B, C1 + C2, N)
        k = k_t.transpose(1, 2)
        for start, stop in _BlockedL1AffinityDistance._row_blocks(
                k_minus.shape[2], ctx.block_size):
            sign = torch.bmm(k_t[:, start:stop], k_minus).sign_()
            # G is symmetric: columns start:stop of K G are K G_block^T.
            torch.bmm(k, sign.transpose(1, 2), out=grad_k[:, :, start:stop])
        scale = (2 * grad_out).view(-1, 1, 1)
        c1 = ctx.c1
        grad_a = grad_k[:, :c1] * scale if ctx.needs_input_grad[0] else None
        grad_b = grad_k[:, c1:] * -scale if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, None


class _FusedL1AffinityDistance(torch.autograd.Function):
    """sum_ij |A^T A - B^T B|_ij per sample with the fused CPU kernel.

    Same maths as :class:`_BlockedL1AffinityDistance` (K = [A; B],
    K- = [A; -B], dA = 2 A G, dB = -2 B G with G = sign(A^T A - B^T B)),
    but each tile of the N x N map exists only in registers. N is padded
    with zero positions to the kernel's tile: their rows and columns of
    A^T A - B^T B are 0, so they add nothing to the sum and their sign is 0.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        ext = affinity_l1_cpu()
        n = a.shape[2]
        pad = -n % ext.COLUMN_TILE
        k = F.pad(torch.cat([a, b], dim=1), (0, pad))
        k_minus = F.pad(torch.cat([a, -b], dim=1), (0, pad))
        k_t = k.transpose(1, 2).contiguous()  # (B, N, C1 + C2)
        ctx.save_for_backward(k_t, k_minus)
        ctx.c1, ctx.n = a.shape[1], n
        return ext.l1_sum(k_t, k_minus).to(a.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tuple[Tensor, Tensor]:
        k_t, k_minus = ctx.saved_tensors
        c1, channels = ctx.c1, k_minus.shape[1]
        # Only the rows of the side(s) that need a gradient are computed.
        begin = 0 if ctx.needs_input_grad[0] else c1
        end = channels if ctx.needs_input_grad[1] else c1
        grad_k = affinity_l1_cpu().sign_product(k_t, k_minus, begin,
                                                end)[..., :ctx.n]
        scale = (2 * grad_out).view(-1, 1, 1)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = grad_k[:, :c1] * scale
        if ctx.needs_input_grad[1]:
            grad_b = grad_k[:, c1 - begin:] * -scale
        return grad_a, grad_b


def fused_affinity_available(tensor: Tensor) -> bool:
    """Whether the fused kernel can compute the q = 1 distance of ``tensor``.

    Args:
        tensor (Tensor): A (normalised) feature tensor.

    Returns:
        bool: True for float32/float64 CPU tensors when
        :func:`mmseg_dsrl.ops.affinity_l1_cpu` is built and runnable.
    """
    return (tensor.device.type == 'cpu'
            and tensor.dtype in (torch.float32, torch.float64)
            and affinity_l1_cpu() is not None)


def _gram_l2_distance(a: Tensor, b: Tensor) -> Tensor:
    """sum_ij (A^T A - B^T B)_ij^2 through C x C Gram matrices."""
    aa = (a @ a.transpose(1, 2)).square().sum(dim=(1, 2))
    bb = (b @ b.transpose(1, 2)).square().sum(dim=(1, 2))
    ab = (a @ b.transpose(1, 2)).square().sum(dim=(1, 2))
    return aa + bb - 2 * ab


def affinity_distance(feat_a: Tensor,
                      feat_b: Tensor,
                      p: Optional[float] = 2.0,
                      q: float = 1.0,
                      block_size: Optional[int] = None,
                      implementation: str = 'auto') -> Tensor:
    """Exact, memory-bounded FA distance between two feature maps.

    Args:
        feat_a (Tensor): Shape (B, C1, H, W).
        feat_b (Tensor): Shape (B, C2, H, W); C2 may differ from C1.
        p (float, optional): Norm order of the per-position normalisation
            (2: cosine, the paper; None: un-normalised dot products).
        q (float): Exponent of the element-wise distance; 1 (the paper's
            default) or 2.
        block_size (int, optional): Rows of the N x N difference held at
            once for q = 1; peak extra memory is about ``B * block_size * N``
            floats. Default: :func:`auto_block_size` (64 rows on the CPU,
            a 512 MiB block on a GPU; both measured).
        implementation (str): For q = 1: ``'fused'`` (the compiled CPU
            kernel, error if unavailable), ``'blocked'`` (PyTorch row
            blocks, any device) or ``'auto'``: fused where
            :func:`fused_affinity_available`, else blocked. The two agree
            to float rounding.

    Returns:
        Tensor: Per-sample distance ``1/N^2 sum_ij |S^a_ij - S^b_ij|^q``,
        shape (B,), in float32 (float64 for float64 inputs) also under
        mixed precision.
    """
    _check_pair(feat_a, feat_b)
    if q not in (1, 2):
        raise ValueError(f'q must be 1 or 2 (exact memory-bounded forms '
                         f'exist for these), got {q}')
    if block_size is not None and block_size < 1:
        raise ValueError(f'block_size must be >= 1, got {block_size}')
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, '
                         f'got {implementation!r}')
    n = feat_a.shape[2] * feat_a.shape[3]
    # At least float32, outside autocast: a float16 sum over one block of
    # N x N entries overflows (inf for N of a few thousand), and autocast
    # would hand the in-place accumulation operands of mixed dtypes.
    dtype = torch.promote_types(
        torch.promote_types(feat_a.dtype, feat_b.dtype), torch.float32)
    with torch.autocast(device_type=feat_a.device.type, enabled=False):
        a = normalize_positions(feat_a.to(dtype), p)
        b = normalize_positions(feat_b.to(dtype), p)
        fused = q == 1 and fused_affinity_available(a)
        if implementation == 'fused' and not fused:
            raise RuntimeError(
                'implementation="fused" needs q = 1, float32/float64 CPU '
                f'tensors (got q={q}, {a.dtype} on {a.device}) and the '
                'compiled kernel (mmseg_dsrl.ops.affinity_l1_cpu() is '
                f'{affinity_l1_cpu()}; build it with `pip install '
                '--no-build-isolation --no-deps -e .`)')
        if q == 1 and fused and implementation != 'blocked':
            total = _FusedL1AffinityDistance.apply(a, b)
        elif q == 1:
            rows = block_size or auto_block_size(
                a.shape[0], n, a.element_size(), a.device.type)
            total = _BlockedL1AffinityDistance.apply(a, b, rows)
        else:
            total = _gram_l2_distance(a, b)
    return total / n**2
