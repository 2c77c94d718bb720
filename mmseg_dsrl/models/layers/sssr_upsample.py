"""Learned x2^n upsampling of DSRL's SSSR branch."""
import math

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor

from ...utils.typing_utils import OptConfigType


class SSSRUpsample(nn.Sequential):
    """Stack of stride-2 transposed convolutions, each + norm + activation.

    Every stage is ``ConvTranspose2d(C, C, 3, stride=2, padding=1,
    output_padding=1)`` (exactly doubles H and W), as in the official DSRL
    release.

    Args:
        channels (int): Channels in and out (class scores or features).
        upsample_factor (int): Total factor, a power of two >= 2; the number
            of stages is ``log2(upsample_factor)``.
        norm_cfg (dict): Norm after each deconvolution.
        act_cfg (dict, optional): Activation after each deconvolution.
        act_last (bool): Whether the last stage has an activation. False for
            class scores, which must stay signed.
    """

    def __init__(self,
                 channels: int,
                 upsample_factor: int,
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 act_last: bool = True) -> None:
        if (not isinstance(upsample_factor, int) or upsample_factor < 2
                or upsample_factor & (upsample_factor - 1)):
            raise ValueError(
                'SSSR upsampling is built from x2 transposed-convolution '
                'stages, so upsample_factor must be a power of two >= 2 '
                f'(2, 4, 8, ...), got {upsample_factor!r}')
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        act_cfg = dict(type='ReLU') if act_cfg is None else act_cfg
        num_stages = int(math.log2(upsample_factor))
        layers = []
        for stage in range(num_stages):
            layers.append(
                nn.ConvTranspose2d(
                    channels,
                    channels,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=False))
            layers.append(build_norm_layer(norm_cfg, channels)[1])
            if act_last or stage < num_stages - 1:
                layers.append(build_activation_layer(act_cfg))
        super().__init__(*layers)
        self.channels = channels
        self.upsample_factor = upsample_factor

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)

    def extra_repr(self) -> str:
        return f'channels={self.channels}, ' \
               f'upsample_factor={self.upsample_factor}'
