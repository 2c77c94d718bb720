"""Feature Affinity loss of DSRL (Wang et al., CVPR 2020)."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.losses import weight_reduce_loss
from mmseg.registry import MODELS
from torch import Tensor

from ..functional import affinity_distance, resize_then_avg_pool
from .utils import check_loss_args

_POOLS = ('avg', 'max')
_GRADIENT_TO = ('both', 'seg', 'sr')


def current_iteration() -> Optional[int]:
    """The training iteration mmengine's loops publish (None outside)."""
    from mmengine.logging import MessageHub
    return MessageHub.get_current_instance().get_info('iter')


def feature_affinity_loss(feat_seg: Tensor,
                          feat_sr: Tensor,
                          p: Optional[float] = 2.0,
                          q: float = 1.0,
                          subsample: int = 8,
                          pool: str = 'avg',
                          block_size: Optional[int] = None,
                          weight: Optional[Tensor] = None,
                          reduction: str = 'mean',
                          seg_align_corners: Optional[bool] = None) -> Tensor:
    """FA loss between SSSR and SISR features of the same spatial size.

    Args:
        feat_seg (Tensor): SSSR-side features, shape (B, C1, H, W).
        feat_sr (Tensor): SISR-side features, shape (B, C2, H, W).
        p (float, optional): Norm of the per-position normalisation
            (2 = cosine; None: un-normalised dot products).
        q (float): Exponent of the element-wise distance (1 in the paper).
        subsample (int): Both maps are pooled by this factor first, so
            N = (H / subsample) * (W / subsample) positions are compared.
        pool (str): 'avg' or 'max' pooling for the subsampling.
        block_size (int, optional): Row block of the exact blocked
            computation (default: 64 rows, measured); not used where the
            fused CPU kernel runs (:func:`affinity_distance`).
        weight (Tensor, optional): Per-sample weight, shape (B,).
        reduction (str): 'none', 'mean' (over the batch) or 'sum'.
        seg_align_corners (bool, optional): None: both maps must have the
            same size. Otherwise ``feat_seg`` is first resized bilinearly
            (with this ``align_corners``) to ``feat_sr``'s size; with
            average pooling, resize and pooling are applied together as
            small matrix products (:func:`resize_then_avg_pool`, the same
            numbers without the HR-sized map).

    Returns:
        Tensor: The loss.
    """
    size = tuple(feat_sr.shape[2:])
    resize_seg = tuple(feat_seg.shape[2:]) != size
    if resize_seg and seg_align_corners is None:
        raise ValueError(
            'FA loss compares the two branches position by position: '
            'SSSR features of spatial size '
            f'{tuple(feat_seg.shape[2:])} and SISR features of size '
            f'{size} differ (pass seg_align_corners to resize the SSSR '
            'side)')
    pool_fn = F.avg_pool2d if pool == 'avg' else F.max_pool2d
    if resize_seg and pool == 'avg':
        feat_seg = resize_then_avg_pool(feat_seg, size, subsample,
                                        seg_align_corners)
    else:
        if resize_seg:
            feat_seg = F.interpolate(
                feat_seg,
                size=size,
                mode='bilinear',
                align_corners=seg_align_corners)
        if subsample > 1:
            feat_seg = pool_fn(feat_seg, subsample, subsample,
                               ceil_mode=True)
    if subsample > 1:
        feat_sr = pool_fn(feat_sr, subsample, subsample, ceil_mode=True)
    loss = affinity_distance(
        feat_seg, feat_sr, p=p, q=q, block_size=block_size)
    return weight_reduce_loss(loss, weight=weight, reduction=reduction)


@MODELS.register_module()
class FeatureAffinityLoss(nn.Module):
    """Feature Affinity loss: ``1/N^2 sum_ij |S^seg_ij - S^sr_ij|^q``.

    `Dual Super-Resolution Learning for Semantic Segmentation
    <https://openaccess.thecvf.com/content_CVPR_2020/papers/Wang_Dual_Super-Resolution_Learning_for_Semantic_Segmentation_CVPR_2020_paper.pdf>`_.

    ``S_ij = (F_i/||F_i||_p)^T (F_j/||F_j||_p)`` is the affinity of positions
    i, j after subsampling by ``subsample``. Computed exactly without
    holding any N x N matrix (see :func:`affinity_distance`), so the paper's
    Cityscapes setting (N = 32768) fits in CPU memory.

    Args:
        p (float, optional): Norm order of the normalisation. Default 2
            (cosine, the paper); None compares un-normalised dot products.
        q (float): 1 (paper) or 2. Default 1.
        subsample (int): Pooling factor before the affinity. Default 8.
        pool (str): 'avg' or 'max'. Default 'avg'.
        block_size (int, optional): Rows per block of the blocked PyTorch
            path (GPU, or CPU without the compiled kernel). Default None:
            :func:`auto_block_size` (64 rows on the CPU, a 512 MiB block on
            a GPU; the fastest measured on each).
        reduction (str): Batch reduction. Default 'mean'.
        loss_weight (float): Weight of the loss (w_fa). Default 1.0.
        loss_name (str): Name in the logs; must start with 'loss_'.
        gradient_to (str): Which side FA trains: 'both' (the paper), 'seg'
            (the SR side is detached: FA can only move the segmentation) or
            'sr' (the segmentation side is detached).
        warmup_iters (int): The loss is 0 (no gradient, not computed) for
            the first ``warmup_iters`` training iterations, while SISR
            learns to reconstruct; the iteration is read from mmengine's
            message hub, which its training loops update. Default 0.
    """

    def __init__(self,
                 p: float = 2.0,
                 q: float = 1.0,
                 subsample: int = 8,
                 pool: str = 'avg',
                 block_size: Optional[int] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_fa',
                 gradient_to: str = 'both',
                 warmup_iters: int = 0) -> None:
        super().__init__()
        if p is not None and p <= 0:
            raise ValueError(f'p must be > 0 (or None: no normalisation), '
                             f'got {p}')
        if gradient_to not in _GRADIENT_TO:
            raise ValueError(f'gradient_to must be one of {_GRADIENT_TO}, '
                             f'got {gradient_to!r}')
        if not isinstance(warmup_iters, int) or warmup_iters < 0:
            raise ValueError(f'warmup_iters must be an int >= 0, got '
                             f'{warmup_iters!r}')
        if q not in (1, 2):
            raise ValueError(f'q must be 1 or 2, got {q}')
        if not isinstance(subsample, int) or subsample < 1:
            raise ValueError(f'subsample must be an int >= 1, got '
                             f'{subsample!r}')
        if block_size is not None and (not isinstance(block_size, int)
                                       or block_size < 1):
            raise ValueError(f'block_size must be None (automatic) or an '
                             f'int >= 1, got {block_size!r}')
        if pool not in _POOLS:
            raise ValueError(f'pool must be one of {_POOLS}, got {pool!r}')
        check_loss_args(reduction, loss_name)
        self.p = p
        self.q = q
        self.subsample = subsample
        self.pool = pool
        self.block_size = block_size
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.gradient_to = gradient_to
        self.warmup_iters = warmup_iters

    def forward(self,
                feat_seg: Tensor,
                feat_sr: Tensor,
                weight: Optional[Tensor] = None,
                reduction_override: Optional[str] = None,
                seg_align_corners: Optional[bool] = None) -> Tensor:
        """Compute the weighted loss; see :func:`feature_affinity_loss`."""
        reduction = reduction_override or self.reduction
        if self.training and self.warmup_iters:
            it = current_iteration()
            if it is None:
                raise RuntimeError(
                    'FeatureAffinityLoss(warmup_iters='
                    f'{self.warmup_iters}) reads the training iteration '
                    "from mmengine's MessageHub ('iter'), which holds none: "
                    'train with an mmengine loop or set it with '
                    "MessageHub.get_current_instance().update_info('iter', "
                    'i)')
            if it < self.warmup_iters:
                # Zero, but connected to both inputs: under DDP every
                # parameter that feeds FA still gets a (zero) gradient.
                # float32 sums: a float16 one can overflow, and inf * 0
                # is NaN.
                return (feat_seg.float().sum() + feat_sr.float().sum()) * 0.0
        if self.gradient_to == 'seg':
            feat_sr = feat_sr.detach()
        elif self.gradient_to == 'sr':
            feat_seg = feat_seg.detach()
        return self.loss_weight * feature_affinity_loss(
            feat_seg, feat_sr, self.p, self.q, self.subsample, self.pool,
            self.block_size, weight, reduction, seg_align_corners)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'p={self.p}, q={self.q}, subsample={self.subsample}, '
                f'pool={self.pool}, loss_weight={self.loss_weight}, '
                f'gradient_to={self.gradient_to}, '
                f'warmup_iters={self.warmup_iters}')
