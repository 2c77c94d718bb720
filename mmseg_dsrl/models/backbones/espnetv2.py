"""ESPNetv2's encoder (Mehta et al., CVPR 2019), the backbone of DSRL's
headline table."""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.typing_utils import OptConfigType, OptMultiConfig

# Channels of levels 1-4 for each width multiplier s (the paper's Table 1,
# without the classification network's level 5).
ESPNETV2_CHANNELS: Dict[float, Tuple[int, int, int, int]] = {
    0.5: (16, 32, 64, 128),
    1.0: (32, 64, 128, 256),
    1.25: (32, 80, 160, 320),
    1.5: (32, 96, 192, 384),
    2.0: (32, 128, 256, 512),
}

# EESP kernel size (effective receptive field of a 3x3 kernel) -> dilation.
_DILATION_OF_RECEPTIVE_FIELD = {3: 1, 5: 2, 7: 3, 9: 4, 11: 5, 13: 6, 15: 7,
                                17: 8}


def eesp_dilations(branches: int, receptive_field_limit: int) -> List[int]:
    """Dilations of an EESP block's depth-wise branches, in the order of
    their hierarchical sum.

    Branch ``i`` has the receptive field ``3 + 2 i`` of a 3x3 kernel
    dilated by ``i + 1``; a branch past ``receptive_field_limit`` falls back
    to a plain 3x3 (dilation 1), and the branches are sorted by receptive
    field, so equal small ones come first.

    Args:
        branches (int): Number of parallel branches K.
        receptive_field_limit (int): Largest receptive field allowed.

    Returns:
        list[int]: ``branches`` dilations, ascending.
    """
    fields = sorted(
        rf if rf <= receptive_field_limit else 3
        for rf in (3 + 2 * i for i in range(branches)))
    try:
        return [_DILATION_OF_RECEPTIVE_FIELD[rf] for rf in fields]
    except KeyError as e:
        raise ValueError(
            f'receptive field {e.args[0]} of an EESP branch has no dilation '
            f'in {sorted(_DILATION_OF_RECEPTIVE_FIELD)}: use at most '
            f'{len(_DILATION_OF_RECEPTIVE_FIELD)} branches') from None


def _prelu(channels: int) -> dict:
    return dict(type='PReLU', num_parameters=channels)


class EESP(BaseModule):
    """Extremely Efficient Spatial Pyramid block: reduce, split, transform,
    merge.

    .. code:: text

        x -> grouped 1x1 (K groups) + BN + PReLU  -> C/K channels
          -> K depth-wise 3x3 convolutions, dilations d_1 <= ... <= d_K,
             summed hierarchically (branch i += branch i-1)
          -> concat -> BN + PReLU -> grouped 1x1 (K groups) + BN
          [-> + x when shapes match -> PReLU]      (with_output_act)

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels, divisible by ``branches``
            squared (each branch's reduction has ``branches`` groups).
        stride (int): 1, or 2 for the strided block of :class:`StridedEESP`.
        branches (int): K. Default 4.
        receptive_field_limit (int): See :func:`eesp_dilations`. Default 7.
        with_output_act (bool): Add the residual and apply the final PReLU
            (the plain block). False for the strided block, whose output is
            fused with the pooled input first. Default True.
        norm_cfg (dict, optional): Norm layers. Default BN.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 branches: int = 4,
                 receptive_field_limit: int = 7,
                 with_output_act: bool = True,
                 norm_cfg: OptConfigType = None) -> None:
        super().__init__()
        if (out_channels % (branches * branches)
                or in_channels % branches):
            raise ValueError(
                f'EESP reduces its input with {branches} groups to '
                f'{branches} branches of out_channels / {branches} channels '
                f'each: in_channels={in_channels} must be divisible by '
                f'{branches} and out_channels={out_channels} by '
                f'{branches * branches}')
        if stride not in (1, 2):
            raise ValueError(f'EESP stride must be 1 or 2, got {stride!r}')
        norm_cfg = norm_cfg or dict(type='BN')
        width = out_channels // branches
        self.reduce = ConvModule(
            in_channels,
            width,
            1,
            groups=branches,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=_prelu(width))
        self.dilations = eesp_dilations(branches, receptive_field_limit)
        self.branches = nn.ModuleList(
            nn.Conv2d(
                width,
                width,
                3,
                stride=stride,
                padding=d,
                dilation=d,
                groups=width,
                bias=False) for d in self.dilations)
        self.merge_norm = build_norm_layer(norm_cfg, out_channels)[1]
        self.merge_act = nn.PReLU(out_channels)
        self.expand = ConvModule(
            out_channels,
            out_channels,
            1,
            groups=branches,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=None)
        self.act = nn.PReLU(out_channels) if with_output_act else None

    def forward(self, x: Tensor) -> Tensor:
        reduced = self.reduce(x)
        outs = [self.branches[0](reduced)]
        for branch in self.branches[1:]:
            outs.append(branch(reduced) + outs[-1])
        out = self.expand(self.merge_act(self.merge_norm(torch.cat(outs, 1))))
        if self.act is None:
            return out
        if out.shape == x.shape:
            out = out + x
        return self.act(out)


class StridedEESP(BaseModule):
    """ESPNetv2's down-sampling unit: a strided EESP block concatenated with
    a 3x3/2 average pool of its input, plus input reinforcement.

    .. code:: text

        x -> [avgpool3x3/2(x), EESP/2(x)]  (concat: in + (out - in) channels)
          + reinforce(image average-pooled to this size)  (3x3 CBR, 1x1 CB)
          -> PReLU

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels (> ``in_channels``).
        image_channels (int): Channels of the image the reinforcement path
            reads. Default 3.
        branches (int): EESP branches. Default 4.
        receptive_field_limit (int): Of the strided EESP block.
        norm_cfg (dict, optional): Norm layers. Default BN.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 image_channels: int = 3,
                 branches: int = 4,
                 receptive_field_limit: int = 9,
                 norm_cfg: OptConfigType = None) -> None:
        super().__init__()
        if out_channels <= in_channels:
            raise ValueError(
                f'StridedEESP concatenates its pooled input ({in_channels} '
                f'channels) with new ones: out_channels={out_channels} must '
                f'exceed in_channels')
        norm_cfg = norm_cfg or dict(type='BN')
        self.eesp = EESP(
            in_channels,
            out_channels - in_channels,
            stride=2,
            branches=branches,
            receptive_field_limit=receptive_field_limit,
            with_output_act=False,
            norm_cfg=norm_cfg)
        self.reinforce = nn.Sequential(
            ConvModule(
                image_channels,
                image_channels,
                3,
                padding=1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=_prelu(image_channels)),
            ConvModule(
                image_channels,
                out_channels,
                1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=None))
        self.act = nn.PReLU(out_channels)

    def forward(self, x: Tensor, image: Tensor) -> Tensor:
        """``image``: the input image average-pooled to this unit's output
        size (:func:`pool_image`)."""
        out = torch.cat([pool_half(x), self.eesp(x)], 1)
        return self.act(out + self.reinforce(image))


def pool_half(x: Tensor) -> Tensor:
    """ESPNetv2's padded 3x3/2 average pool: (H, W) -> (ceil(H/2),
    ceil(W/2)), the size a 3x3/2 convolution with padding 1 gives."""
    return F.avg_pool2d(x, kernel_size=3, stride=2, padding=1)


@MODELS.register_module()
class ESPNetV2(BaseModule):
    """ESPNetv2's encoder, levels 1-4 (the segmentation network's backbone).

    `ESPNetv2: A Light-weight, Power Efficient, and General Purpose
    Convolutional Neural Network <https://arxiv.org/abs/1811.11431>`_.

    .. code:: text

        image -> level 1: 3x3/2 conv + BN + PReLU             (1/2)
              -> level 2: StridedEESP                          (1/4)
              -> level 3: StridedEESP, 3 x EESP                (1/8)
              -> level 4: StridedEESP, 7 x EESP                (1/16)

    Each StridedEESP also reads the image, average-pooled (3x3/2, padded)
    to its output size (input reinforcement). The classification network's
    level 5 is not part of the segmentation model.

    Every stride is a padded 3x3/2 operator, so a side of n becomes
    ceil(n / 2) at each level and any input size runs. The decoder
    (:class:`~mmseg_dsrl.models.decode_heads.ESPNetV2Head`) merges levels of
    exactly halving sizes only when both sides are multiples of 16: the
    configs pad inputs to that (``data_preprocessor.size_divisor``), as
    mmseg does for any backbone with a fixed stride, and the padding is
    cropped from the prediction.

    Args:
        widen_factor (float): The width multiplier s; one of
            :data:`ESPNETV2_CHANNELS` (0.5, 1.0, 1.25, 1.5, 2.0). Default 2.0
            (the model of DSRL's table).
        in_channels (int): Image channels. Default 3.
        num_blocks (tuple[int, int]): EESP blocks after the strided unit of
            levels 3 and 4. Default (3, 7).
        branches (int): Branches K of every EESP block. Default 4.
        receptive_field_limits (tuple[int, int, int, int]): Receptive-field
            limits (:func:`eesp_dilations`) of the strided units of levels
            2, 3 and 4 (level 3's plain blocks use level 4's limit) and of
            level 4's plain blocks. Default ``(13, 11, 9, 7)``, as in the
            released models.
        out_indices (tuple[int]): Levels to return (0-3: level 1-4).
            Default (0, 1, 2, 3).
        norm_cfg (dict, optional): Norm layers. Default BN.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 widen_factor: float = 2.0,
                 in_channels: int = 3,
                 num_blocks: Sequence[int] = (3, 7),
                 branches: int = 4,
                 receptive_field_limits: Sequence[int] = (13, 11, 9, 7),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        if widen_factor not in ESPNETV2_CHANNELS:
            raise ValueError(
                f'ESPNetV2 widen_factor must be one of '
                f'{sorted(ESPNETV2_CHANNELS)} (the published widths), got '
                f'{widen_factor!r}')
        if len(num_blocks) != 2 or len(receptive_field_limits) != 4:
            raise ValueError(
                'ESPNetV2 takes num_blocks for levels 3 and 4 (2 values) and '
                'receptive_field_limits for levels 2-4 and level 4\'s blocks '
                f'(4 values), got {tuple(num_blocks)} and '
                f'{tuple(receptive_field_limits)}')
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(4) for i in out_indices):
            raise ValueError(f'out_indices must be among 0-3 (levels 1-4), '
                             f'got {out_indices}')
        norm_cfg = norm_cfg or dict(type='BN')
        c1, c2, c3, c4 = ESPNETV2_CHANNELS[widen_factor]
        r2, r3, r4, r4_blocks = receptive_field_limits
        self.widen_factor = widen_factor
        self.channels = (c1, c2, c3, c4)
        self.out_indices = out_indices
        self.stem = ConvModule(
            in_channels,
            c1,
            3,
            stride=2,
            padding=1,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=_prelu(c1))

        def down(cin: int, cout: int, limit: int) -> StridedEESP:
            return StridedEESP(cin, cout, in_channels, branches, limit,
                               norm_cfg)

        def blocks(channels: int, n: int, limit: int) -> nn.Sequential:
            return nn.Sequential(*(EESP(
                channels,
                channels,
                branches=branches,
                receptive_field_limit=limit,
                norm_cfg=norm_cfg) for _ in range(n)))

        self.down2 = down(c1, c2, r2)
        self.down3 = down(c2, c3, r3)
        self.blocks3 = blocks(c3, num_blocks[0], r4)
        self.down4 = down(c3, c4, r4)
        self.blocks4 = blocks(c4, num_blocks[1], r4_blocks)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """The levels of ``out_indices``: level l at 1/2**l of the input
        (each side ceil-halved per level)."""
        image = x
        level1 = self.stem(x)
        outs = [level1]
        x = level1
        image = pool_half(image)
        for down, blocks in ((self.down2, None), (self.down3, self.blocks3),
                             (self.down4, self.blocks4)):
            image = pool_half(image)
            x = down(x, image)
            if blocks is not None:
                x = blocks(x)
            outs.append(x)
        return tuple(outs[i] for i in self.out_indices)
