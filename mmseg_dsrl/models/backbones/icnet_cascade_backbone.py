"""The three-branch image cascade of ICNet (Zhao et al., ECCV 2018)."""
import copy
from typing import List, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.typing_utils import ConfigType, OptConfigType, OptMultiConfig
from ..layers import CascadeFeatureFusion, PyramidPoolingSum

CASCADE_EXITS = ('sub4', 'sub24', 'sub124')


def check_exit(exit: str) -> str:
    """Validate an early-exit name."""
    if exit not in CASCADE_EXITS:
        raise ValueError(f'exit must be one of {CASCADE_EXITS}, got '
                         f'{exit!r}')
    return exit


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


@MODELS.register_module()
class ICNetCascadeBackbone(BaseModule):
    """ICNet's image cascade: sub4, sub2 and sub1 branches fused by CFFs.

    `ICNet for Real-Time Semantic Segmentation on High-Resolution Images
    <https://arxiv.org/abs/1704.08545>`_.

    .. code:: text

        image -> x0.5 -> trunk stem, layer1, layer2 ----------- f_sub2 (1/16)
                           f_sub2 -> x0.5 -> layer3, layer4 (dilated)
                    -> pyramid pooling (sum) -> 1x1 ------------ f_sub4 (1/32)
        image -> 3 x conv3x3 stride 2 --------------------------- f_sub1 (1/8)
        CFF(f_sub4, f_sub2) -> f_24 (1/16);  CFF(f_24, f_sub1) -> f_124 (1/8)

    The sub4 branch continues from the downsampled sub2 features, as in the
    released model (trunk weights and the first stages' computation are
    shared). Outputs, for the heads' ``in_index``:

    * 0: f_sub4 upsampled to 1/16 (CFF1's auxiliary input; sub4 exit),
    * 1: f_24 upsampled to 1/8 (CFF2's auxiliary input; sub24 exit),
    * 2: f_124 at 1/8 (the final head upsamples it x2 and classifies).

    ``forward(x, exit='sub4')`` computes output 0 only and
    ``exit='sub24'`` outputs 0-1: the branches they do not use never run.

    Args:
        backbone_cfg (dict): A dilated mmseg ResNet (e.g. ResNetV1c with
            strides (1, 2, 1, 1), dilations (1, 1, 2, 4)).
        width_multiplier (float): Scales every width: trunk stem and base
            channels, sub1, pyramid reduction and fusion channels. 0.5 is
            the released compressed model's kernel count. Default 1.0.
        sub1_channels (Sequence[int]): Widths of the three sub1 convs.
        psp_bins (Sequence[int]): Pyramid pooling bins.
        psp_out_channels (int): Channels of f_sub4 after the 1x1 conv.
        fusion_channels (int): Channels of the CFF outputs.
        pool_impl (str): 'matmul' (exact, exports to ONNX at any size) or
            'adaptive' (mmseg's adaptive pooling).
        norm_cfg (dict, optional): Norm of sub1, reduction and CFFs.
        align_corners (bool): Of all bilinear resizing.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone_cfg: ConfigType,
                 width_multiplier: float = 1.0,
                 sub1_channels: Sequence[int] = (32, 32, 64),
                 psp_bins: Sequence[int] = (1, 2, 3, 6),
                 psp_out_channels: int = 256,
                 fusion_channels: int = 128,
                 pool_impl: str = 'matmul',
                 norm_cfg: OptConfigType = None,
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        if not 0 < width_multiplier <= 1:
            raise ValueError(f'width_multiplier must be in (0, 1], got '
                             f'{width_multiplier}')
        if len(sub1_channels) != 3:
            raise ValueError(f'sub1 has three convolutions, got '
                             f'sub1_channels={tuple(sub1_channels)}')
        cfg = copy.deepcopy(dict(backbone_cfg))
        strides = tuple(cfg.get('strides', (1, 2, 2, 2)))
        if cfg.get('num_stages', 4) != 4 or strides[2:] != (1, 1):
            raise ValueError(
                'the sub4 branch needs a 4-stage dilated trunk with strides '
                f'(1, 2, 1, 1) (layer3/4 keep 1/32), got num_stages='
                f"{cfg.get('num_stages', 4)}, strides={strides}")
        w = width_multiplier
        cfg['stem_channels'] = _scaled(cfg.get('stem_channels', 64), w)
        cfg['base_channels'] = _scaled(cfg.get('base_channels', 64), w)
        self.trunk = MODELS.build(cfg)
        expansion = self.trunk.block.expansion
        sub2_channels = cfg['base_channels'] * 2 * expansion
        top_channels = cfg['base_channels'] * 8 * expansion
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        self.width_multiplier = w
        self.align_corners = align_corners

        widths = [_scaled(c, w) for c in sub1_channels]
        convs, prev = [], 3
        for width in widths:
            convs.append(
                ConvModule(
                    prev, width, 3, stride=2, padding=1, norm_cfg=norm_cfg))
            prev = width
        self.sub1 = nn.Sequential(*convs)
        self.pyramid_pooling = PyramidPoolingSum(psp_bins, pool_impl,
                                                 align_corners)
        psp_out = _scaled(psp_out_channels, w)
        fusion = _scaled(fusion_channels, w)
        self.sub4_reduce = ConvModule(
            top_channels, psp_out, 1, norm_cfg=norm_cfg)
        self.cff_24 = CascadeFeatureFusion(psp_out, sub2_channels, fusion,
                                           norm_cfg, align_corners)
        self.cff_124 = CascadeFeatureFusion(fusion, widths[-1], fusion,
                                            norm_cfg, align_corners)
        self.out_channels = (psp_out, fusion, fusion)

    def _resize(self, x: Tensor, size) -> Tensor:
        return F.interpolate(
            x, size=size, mode='bilinear', align_corners=self.align_corners)

    def _half(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        return self._resize(x, ((h + 1) // 2, (w + 1) // 2))

    def forward_sub2(self, image: Tensor) -> Tensor:
        """Shared trunk stages on the half image -> f_sub2 (1/16)."""
        t = self.trunk
        x = t.stem(self._half(image)) if t.deep_stem else t.relu(
            t.norm1(t.conv1(self._half(image))))
        x = t.maxpool(x)
        return t.layer2(t.layer1(x))

    def forward_sub4(self, f_sub2: Tensor) -> Tensor:
        """Heavy trunk stages + pyramid pooling -> f_sub4 (1/32)."""
        x = self.trunk.layer4(self.trunk.layer3(self._half(f_sub2)))
        return self.sub4_reduce(self.pyramid_pooling(x))

    def forward(self, x: Tensor, exit: str = 'sub124') -> List[Tensor]:
        """Cascade outputs up to ``exit`` (see the class docstring)."""
        check_exit(exit)
        f_sub2 = self.forward_sub2(x)
        f_sub4 = self.forward_sub4(f_sub2)
        if exit == 'sub4':
            return [self._resize(f_sub4, f_sub2.shape[2:])]
        f_24, sub4_up = self.cff_24(f_sub4, f_sub2)
        if exit == 'sub24':
            h, w = f_24.shape[2:]
            return [sub4_up, self._resize(f_24, (2 * h, 2 * w))]
        f_124, f24_up = self.cff_124(f_24, self.sub1(x))
        return [sub4_up, f24_up, f_124]
