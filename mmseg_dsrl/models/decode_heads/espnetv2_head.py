"""ESPNetv2's segmentation decoder (Mehta et al., CVPR 2019)."""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.typing_utils import ConfigType
from ..functional.pooling import adaptive_avg_pool2d_matmul


def _prelu(channels: int) -> dict:
    return dict(type='PReLU', num_parameters=channels)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: (B, g * c, H, W) read as g groups of c
    channels -> channels interleaved, one from each group in turn."""
    b, channels, h, w = x.shape
    return x.view(b, groups, channels // groups, h, w).transpose(
        1, 2).reshape(b, channels, h, w)


def _adaptive_avg_pool(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """``F.adaptive_avg_pool2d``; during ONNX export the same pooling as
    two constant matrix products, which every exporter and runtime takes at
    any size (FLOP counters, which trace too, see the pooling)."""
    if torch.onnx.is_in_onnx_export():
        return adaptive_avg_pool2d_matmul(x, size)
    return F.adaptive_avg_pool2d(x, size)


class EfficientPyramidPooling(nn.Module):
    """ESPNetv2's efficient pyramid pooling (EESP-style pyramid on a
    projection).

    .. code:: text

        x -> 1x1 + BN + PReLU -> p channels
          -> for each scale s, at n_s = max(5, ceil(s * n)) per side:
               s < 1: adaptive average pool to n_s, depth-wise 3x3,
                      bilinear back to n;
               s > 1: bilinear up to n_s, depth-wise 3x3, adaptive average
                      pool back to n;
               s = 1: the depth-wise 3x3 alone
          -> concat -> BN + PReLU -> channel shuffle
          -> grouped 3x3 (p groups) + BN + PReLU -> p channels

    Args:
        in_channels (int): Input channels.
        channels (int): Projection channels p.
        scales (tuple[float]): Pyramid scales, largest first. Default
            (2.0, 1.5, 1.0, 0.5, 0.1).
        align_corners (bool): Of the bilinear resizes.
        norm_cfg (dict): Norm layers.
    """

    def __init__(self, in_channels: int, channels: int,
                 scales: Sequence[float], align_corners: bool,
                 norm_cfg: ConfigType) -> None:
        super().__init__()
        scales = tuple(float(s) for s in scales)
        if not scales or any(s <= 0 for s in scales) or list(scales) != \
                sorted(scales, reverse=True):
            raise ValueError(f'pyramid scales must be positive and '
                             f'descending, got {scales}')
        self.scales = scales
        self.align_corners = align_corners
        self.project = ConvModule(
            in_channels,
            channels,
            1,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=_prelu(channels))
        self.branches = nn.ModuleList(
            nn.Conv2d(
                channels, channels, 3, padding=1, groups=channels, bias=False)
            for _ in scales)
        pyramid = channels * len(scales)
        self.merge_norm = build_norm_layer(norm_cfg, pyramid)[1]
        self.merge_act = nn.PReLU(pyramid)
        self.fuse = ConvModule(
            pyramid,
            channels,
            3,
            padding=1,
            groups=channels,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=_prelu(channels))

    def _branch(self, x: Tensor, conv: nn.Module, scale: float) -> Tensor:
        # ints, so that a traced graph (ONNX) has constant pooling sizes
        size = tuple(int(n) for n in x.shape[2:])
        if scale == 1.0:
            return conv(x)
        scaled = tuple(max(5, math.ceil(n * scale)) for n in size)
        if scale < 1.0:
            out = conv(_adaptive_avg_pool(x, scaled))
            return F.interpolate(
                out, size, mode='bilinear', align_corners=self.align_corners)
        out = conv(
            F.interpolate(
                x, scaled, mode='bilinear',
                align_corners=self.align_corners))
        return _adaptive_avg_pool(out, size)

    def forward(self, x: Tensor) -> Tensor:
        x = self.project(x)
        out = torch.cat([
            self._branch(x, conv, s)
            for conv, s in zip(self.branches, self.scales)
        ], 1)
        out = channel_shuffle(
            self.merge_act(self.merge_norm(out)), len(self.scales))
        return self.fuse(out)


class GatedMerge(nn.Module):
    """ESPNetv2's encoder-to-decoder projection: a grouped 3x3 projection
    of the encoder map, scaled per channel by a gate computed from its global
    average (1x1 conv + sigmoid).

    Args:
        in_channels (int): Encoder channels.
        out_channels (int): Decoder channels; the 3x3 has
            ``gcd(in_channels, out_channels)`` groups.
        norm_cfg (dict): Norm layer.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: ConfigType) -> None:
        super().__init__()
        self.gate = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.project = ConvModule(
            in_channels,
            out_channels,
            3,
            padding=1,
            groups=math.gcd(in_channels, out_channels),
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=_prelu(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.gate(F.adaptive_avg_pool2d(x, 1)))
        return self.project(x) * gate


@MODELS.register_module()
class ESPNetV2Head(BaseDecodeHead):
    """ESPNetv2's bottom-up segmentation decoder.

    `ESPNetv2: A Light-weight, Power Efficient, and General Purpose
    Convolutional Neural Network <https://arxiv.org/abs/1811.11431>`_.

    .. code:: text

        level 4 -> pyramid -> 1x1 + BN + PReLU (decoder_channels[0])
          -> x2 -> + merge(level 3) -> BN + PReLU
          -> pyramid -> 1x1 + BN + PReLU (decoder_channels[1])
          -> x2 -> + merge(level 2) -> BN + PReLU
          -> pyramid -> 1x1 + BN + PReLU (decoder_channels[2])
          -> x2 -> + merge(level 1) -> BN + PReLU
          -> pyramid (``channels``) -> conv_seg      (class scores at 1/2)

    "pyramid" is :class:`EfficientPyramidPooling`, "merge" a
    :class:`GatedMerge` of the encoder level; each x2 is a bilinear resize
    to the encoder level's size (exactly x2 for inputs whose sides are
    multiples of 16, see :class:`~mmseg_dsrl.models.backbones.ESPNetV2`).
    The scores are resized to the image by mmseg's ``predict_by_feat`` /
    ``loss_by_feat`` (bilinear, ``align_corners``; True in the released
    models).

    Args:
        in_channels (tuple[int]): Channels of encoder levels 1-4 (with
            ``in_index=(0, 1, 2, 3)``, ``input_transform='multiple_select'``).
        channels (int): Projection channels of every pyramid, the input of
            ``conv_seg``. The released models use ``min(classes // 2, 16)``:
            10 for Cityscapes' 20 outputs (keep 10 to fine-tune them).
        decoder_channels (tuple[int, int, int]): Outputs of the first three
            decoder stages. Default (64, 48, 32) (Cityscapes, PASCAL).
        pyramid_scales (tuple[float]): See :class:`EfficientPyramidPooling`.
        **kwargs: :class:`mmseg.models.decode_heads.BaseDecodeHead`
            arguments (``num_classes``, ``dropout_ratio`` (0 in the
            released models), ``align_corners``, ``loss_decode``, ...).
    """

    def __init__(self,
                 decoder_channels: Sequence[int] = (64, 48, 32),
                 pyramid_scales: Sequence[float] = (2.0, 1.5, 1.0, 0.5,
                                                    0.1),
                 **kwargs) -> None:
        super().__init__(input_transform='multiple_select', **kwargs)
        if len(self.in_channels) != 4 or len(decoder_channels) != 3:
            raise ValueError(
                f'ESPNetV2Head decodes the 4 encoder levels through 3 '
                f'stages: in_channels needs 4 values and decoder_channels 3, '
                f'got {tuple(self.in_channels)} and {tuple(decoder_channels)}')
        norm_cfg = self.norm_cfg or dict(type='BN')
        deepest_first = list(self.in_channels)[::-1]
        stage_in = [deepest_first[0], *decoder_channels]
        self.pyramids = nn.ModuleList(
            EfficientPyramidPooling(cin, self.channels, pyramid_scales,
                                    self.align_corners, norm_cfg)
            for cin in stage_in)
        self.projections = nn.ModuleList(
            ConvModule(
                self.channels,
                cout,
                1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=_prelu(cout)) for cout in decoder_channels)
        self.merges = nn.ModuleList(
            GatedMerge(cin, cout, norm_cfg)
            for cin, cout in zip(deepest_first[1:], decoder_channels))
        self.merge_acts = nn.ModuleList(
            nn.Sequential(
                build_norm_layer(norm_cfg, c)[1], nn.PReLU(c))
            for c in decoder_channels)

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        """The last pyramid's output at level 1's size (1/2 of the input),
        ``channels`` channels: what ``conv_seg`` classifies."""
        levels = self._transform_inputs(inputs)[::-1]
        x = levels[0]
        for pyramid, project, merge, act, skip in zip(
                self.pyramids, self.projections, self.merges,
                self.merge_acts, levels[1:]):
            x = resize(
                project(pyramid(x)),
                size=skip.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
            x = act(x + merge(skip))
        return self.pyramids[-1](x)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.cls_seg(self._forward_feature(inputs))
