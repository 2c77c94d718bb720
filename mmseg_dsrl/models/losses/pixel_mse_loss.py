"""Pixel-wise mean squared error, the SISR reconstruction loss of DSRL."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.losses import weight_reduce_loss
from mmseg.registry import MODELS
from torch import Tensor

from .utils import check_loss_args


def pixel_mse_loss(pred: Tensor,
                   target: Tensor,
                   weight: Optional[Tensor] = None,
                   reduction: str = 'mean') -> Tensor:
    """Element-wise squared error, reduced like mmseg's losses.

    Args:
        pred (Tensor): Prediction, shape (B, C, H, W).
        target (Tensor): Target of the same shape.
        weight (Tensor, optional): Element-wise weight.
        reduction (str): 'none', 'mean' or 'sum'.

    Returns:
        Tensor: The loss, in float32 (float64 for float64 inputs) also
        under mixed precision.
    """
    if pred.shape != target.shape:
        raise ValueError(f'prediction shape {tuple(pred.shape)} and target '
                         f'shape {tuple(target.shape)} differ')
    # In float32 with autocast off: under fp16 autocast a float16 sum of
    # squared errors over a batch of HR images can overflow, and pred and
    # target may arrive in different dtypes.
    with torch.autocast(device_type=pred.device.type, enabled=False):
        dtype = torch.promote_types(
            torch.promote_types(pred.dtype, target.dtype), torch.float32)
        loss = F.mse_loss(
            pred.to(dtype), target.to(dtype), reduction='none')
        if weight is not None:
            weight = weight.to(dtype)
        return weight_reduce_loss(loss, weight=weight, reduction=reduction)


@MODELS.register_module()
class PixelMSELoss(nn.Module):
    """Mean squared error between two images.

    Args:
        reduction (str): 'none', 'mean' or 'sum'. Default 'mean'.
        loss_weight (float): Weight of the loss (DSRL's w_sr). Default 1.0.
        loss_name (str): Name in the logs; must start with 'loss_'.
    """

    def __init__(self,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_sr') -> None:
        super().__init__()
        check_loss_args(reduction, loss_name)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        reduction = reduction_override or self.reduction
        return self.loss_weight * pixel_mse_loss(pred, target, weight,
                                                 reduction)

    @property
    def loss_name(self) -> str:
        return self._loss_name
