"""Cascade Feature Fusion unit of ICNet (Zhao et al., ECCV 2018)."""
from typing import Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor

from ...utils.typing_utils import OptConfigType


class CascadeFeatureFusion(nn.Module):
    """Fuse a low-resolution map F1 with a higher-resolution map F2.

    .. code:: text

        F1 -> upsample to F2's size (x2) -> conv3x3 dil. 2 + BN --+
        F2 -> conv1x1 + BN ----------------------------------- sum -> ReLU

    Upsampling to F2's exact size (x2 when the sizes divide) keeps every
    input size valid. The upsampled F1 is returned as well: ICNet's auxiliary
    classifier (cascade label guidance) reads it.

    Args:
        low_channels (int): Channels of F1.
        high_channels (int): Channels of F2.
        out_channels (int): Channels of the fused map.
        norm_cfg (dict, optional): Norm config. Default BN.
        align_corners (bool): Of the bilinear upsampling.
    """

    def __init__(self,
                 low_channels: int,
                 high_channels: int,
                 out_channels: int,
                 norm_cfg: OptConfigType = None,
                 align_corners: bool = False) -> None:
        super().__init__()
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        self.low_conv = ConvModule(
            low_channels,
            out_channels,
            3,
            padding=2,
            dilation=2,
            norm_cfg=norm_cfg,
            act_cfg=None)
        self.high_proj = ConvModule(
            high_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.align_corners = align_corners

    def forward(self, low: Tensor, high: Tensor) -> Tuple[Tensor, Tensor]:
        """Return (fused map at F2's size, F1 upsampled to F2's size)."""
        low_up = F.interpolate(
            low,
            size=high.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        fused = F.relu(self.low_conv(low_up) + self.high_proj(high))
        return fused, low_up
