"""Learned x2^n upsampling of DSRL's SSSR branch."""
import math

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor

from ...utils.typing_utils import OptConfigType

_INITS = ('bilinear', 'default')


def bilinear_deconv_(deconv: nn.ConvTranspose2d) -> None:
    """Make a k=3, stride-2 transposed conv a per-channel linear upsampler.

    With the kernel ``[.5, 1, .5] x [.5, 1, .5]`` on the diagonal, even
    output positions copy the input and odd ones average two neighbours: the
    branch starts as bilinear upsampling (what the LR baseline uses) and
    learns from there (the FCN initialisation of "deconvolution" layers).
    """
    if deconv.kernel_size != (3, 3) or deconv.in_channels != \
            deconv.out_channels:
        raise ValueError('bilinear init needs a square 3x3 C->C deconv')
    k = torch.tensor([0.5, 1.0, 0.5])
    with torch.no_grad():
        deconv.weight.zero_()
        idx = torch.arange(deconv.in_channels)
        deconv.weight[idx, idx] = torch.outer(k, k)
        if deconv.bias is not None:
            deconv.bias.zero_()


class SSSRUpsample(nn.Sequential):
    """Stack of stride-2 transposed convolutions with norm and activation.

    Every stage is ``ConvTranspose2d(C, C, 3, stride=2, padding=1,
    output_padding=1)`` (exactly doubles H and W), as in the official DSRL
    release, followed by norm + activation.

    Args:
        channels (int): Channels in and out (class scores or features).
        upsample_factor (int): Total factor, a power of two >= 2; the number
            of stages is ``log2(upsample_factor)``.
        norm_cfg (dict, optional): Norm after each deconvolution. Default BN.
        act_cfg (dict, optional): Activation after it. Default ReLU.
        linear_last (bool): The last stage is a plain deconvolution (with
            bias) without norm and activation. True for class scores: a
            ReLU would clip negative evidence and a norm would remove each
            class's offset. Default False.
        init (str): 'bilinear' (default): every deconvolution starts as
            linear upsampling (:func:`bilinear_deconv_`); 'default':
            PyTorch's random initialisation.
    """

    def __init__(self,
                 channels: int,
                 upsample_factor: int,
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 linear_last: bool = False,
                 init: str = 'bilinear') -> None:
        if (not isinstance(upsample_factor, int) or upsample_factor < 2
                or upsample_factor & (upsample_factor - 1)):
            raise ValueError(
                'SSSR upsampling is built from x2 transposed-convolution '
                'stages, so upsample_factor must be a power of two >= 2 '
                f'(2, 4, 8, ...), got {upsample_factor!r}')
        if init not in _INITS:
            raise ValueError(f'init must be one of {_INITS}, got {init!r}')
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        act_cfg = dict(type='ReLU') if act_cfg is None else act_cfg
        num_stages = int(math.log2(upsample_factor))
        layers = []
        for stage in range(num_stages):
            last = stage == num_stages - 1
            plain = linear_last and last
            deconv = nn.ConvTranspose2d(
                channels,
                channels,
                kernel_size=3,
                stride=2,
                padding=1,
                output_padding=1,
                bias=plain)
            if init == 'bilinear':
                bilinear_deconv_(deconv)
            layers.append(deconv)
            if not plain:
                layers.append(build_norm_layer(norm_cfg, channels)[1])
                layers.append(build_activation_layer(act_cfg))
        super().__init__(*layers)
        self.channels = channels
        self.upsample_factor = upsample_factor
        self.init = init

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, '
                f'upsample_factor={self.upsample_factor}, init={self.init!r}')
