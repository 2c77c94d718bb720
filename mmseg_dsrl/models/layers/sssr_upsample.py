"""Learned x2^n upsampling of DSRL's SSSR branch."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor

from ...utils.typing_utils import OptConfigType

_INITS = ('bilinear', 'default')
SSSR_FORMS = ('linear', 'norm-act')


def bilinear_deconv_(deconv: nn.ConvTranspose2d) -> None:
    """Make a stride-2 transposed conv a per-channel linear x2 upsampler.

    The kernel is FCN's bilinear one, on the diagonal: ``[.5, 1, .5]`` (k=3:
    even outputs copy the input, odd ones average two neighbours, the grid
    of ``align_corners=True``) or ``[.25, .75, .75, .25]`` (k=4: the
    half-pixel grid of ``align_corners=False``), outer product with itself.
    """
    k = deconv.kernel_size[0]
    if deconv.kernel_size != (k, k) or k not in (3, 4) or \
            deconv.in_channels != deconv.out_channels:
        raise ValueError('bilinear init needs a square 3x3 or 4x4 C->C '
                         'deconv')
    factor = (k + 1) // 2
    center = factor - 1 if k % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(k, dtype=torch.float32) - center).abs() / factor
    with torch.no_grad():
        deconv.weight.zero_()
        idx = torch.arange(deconv.in_channels)
        deconv.weight[idx, idx] = torch.outer(taps, taps)
        if deconv.bias is not None:
            deconv.bias.zero_()


class _LinearStage(nn.ConvTranspose2d):
    """One stage of the 'linear' form: a C -> C transposed convolution that,
    bilinear-initialised, is exactly the x2 bilinear resize of the host's
    ``align_corners`` convention.

    * ``align_corners=True``: ``ConvTranspose2d(3, stride 2, padding 1,
      output_padding 1)`` (the official release's layer), of whose 2n
      outputs the first 2n - 1 are kept: the samples of the input and the
      midpoints between them, i.e. align-corners interpolation to 2n - 1.
      (The last output would only see the zero padding.)
    * ``align_corners=False``: ``ConvTranspose2d(4, stride 2, padding 1)``
      on the input replicate-padded by one pixel, cropped to 2n: the
      half-pixel grid, with the border clamped as ``F.interpolate`` does.
    """

    def __init__(self, channels: int, align_corners: bool,
                 bias: bool) -> None:
        if align_corners:
            super().__init__(channels, channels, 3, stride=2, padding=1,
                             output_padding=1, bias=bias)
        else:
            super().__init__(channels, channels, 4, stride=2, padding=1,
                             bias=bias)
        self.align_corners = align_corners

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        if self.align_corners:
            return super().forward(x)[:, :, :2 * h - 1, :2 * w - 1]
        out = super().forward(F.pad(x, (1, 1, 1, 1), mode='replicate'))
        return out[:, :, 2:2 * h + 2, 2:2 * w + 2]

    def extra_repr(self) -> str:
        return super().extra_repr() + f', align_corners={self.align_corners}'


class SSSRUpsample(nn.Sequential):
    """Stack of stride-2 transposed convolutions (DSRL's SSSR upsampling).

    Two forms:

    * ``'linear'`` (default): plain transposed convolutions, no norm or
      activation, each (with the default bilinear init) exactly the x2
      bilinear resize of the host's ``align_corners`` convention (see
      :class:`_LinearStage`). At initialisation the whole stack followed by
      the host's bilinear resize to the HR size predicts what the host
      predicts by resizing alone (exactly for ``align_corners=True``; for
      ``False``, x2 steps interpolate between interpolated samples, so
      values differ slightly near the input samples), so a pretrained
      model starts DSRL from its own function and learns from there.
    * ``'norm-act'``: every stage ``ConvTranspose2d(C, C, 3, stride 2,
      padding 1, output_padding 1)`` (exactly doubles H and W), followed by
      norm + activation; the last stage plain when ``plain_last``. The
      official release is this form with BN + PReLU on every stage
      (``act_cfg=dict(type='PReLU')``, ``plain_last=False``). A norm in
      training mode re-scales the scores from the first step, and an
      activation clips them, so this form does not start where the host is.

    Args:
        channels (int): Channels in and out (class scores or features).
        upsample_factor (int): Total factor, a power of two >= 2; the number
            of stages is ``log2(upsample_factor)``.
        form (str): 'linear' or 'norm-act'. Default 'linear'.
        align_corners (bool): The host's bilinear convention ('linear').
            Default False.
        norm_cfg (dict, optional): Norm after each deconvolution
            ('norm-act'). Default BN.
        act_cfg (dict, optional): Activation after it ('norm-act'). Default
            ReLU; a PReLU gets one parameter per channel.
        plain_last (bool): 'norm-act': the last stage is a plain
            deconvolution (with bias), without norm and activation (for
            class scores: a ReLU would clip negative evidence and a norm
            would remove each class's offset). Default False.
        init (str): 'bilinear' (default): every deconvolution starts as
            linear upsampling (:func:`bilinear_deconv_`); 'default':
            PyTorch's random initialisation.
    """

    def __init__(self,
                 channels: int,
                 upsample_factor: int,
                 form: str = 'linear',
                 align_corners: bool = False,
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 plain_last: bool = False,
                 init: str = 'bilinear') -> None:
        if (not isinstance(upsample_factor, int) or upsample_factor < 2
                or upsample_factor & (upsample_factor - 1)):
            raise ValueError(
                'SSSR upsampling is built from x2 transposed-convolution '
                'stages, so upsample_factor must be a power of two >= 2 '
                f'(2, 4, 8, ...), got {upsample_factor!r}')
        if form not in SSSR_FORMS:
            raise ValueError(f'form must be one of {SSSR_FORMS}, got '
                             f'{form!r}')
        if init not in _INITS:
            raise ValueError(f'init must be one of {_INITS}, got {init!r}')
        num_stages = int(math.log2(upsample_factor))
        if form == 'linear':
            layers = [
                _LinearStage(channels, align_corners,
                             bias=stage == num_stages - 1)
                for stage in range(num_stages)
            ]
        else:
            layers = self._norm_act_stages(channels, num_stages, norm_cfg,
                                           act_cfg, plain_last)
        if init == 'bilinear':
            for layer in layers:
                if isinstance(layer, nn.ConvTranspose2d):
                    bilinear_deconv_(layer)
        super().__init__(*layers)
        self.channels = channels
        self.upsample_factor = upsample_factor
        self.form = form
        self.init = init

    @staticmethod
    def _norm_act_stages(channels: int, num_stages: int,
                         norm_cfg: OptConfigType, act_cfg: OptConfigType,
                         plain_last: bool) -> list:
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        act_cfg = dict(type='ReLU') if act_cfg is None else dict(act_cfg)
        if act_cfg['type'] == 'PReLU':
            act_cfg.setdefault('num_parameters', channels)
        layers = []
        for stage in range(num_stages):
            plain = plain_last and stage == num_stages - 1
            layers.append(
                nn.ConvTranspose2d(
                    channels,
                    channels,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=plain))
            if not plain:
                layers.append(build_norm_layer(norm_cfg, channels)[1])
                layers.append(build_activation_layer(act_cfg))
        return layers

    def output_size(self, size: tuple) -> tuple:
        """(H, W) of the output for an input of ``size``."""
        out = []
        for n in size:
            for layer in self:
                if isinstance(layer, _LinearStage) and layer.align_corners:
                    n = 2 * n - 1
                elif isinstance(layer, nn.ConvTranspose2d):
                    n = 2 * n
            out.append(n)
        return tuple(out)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, '
                f'upsample_factor={self.upsample_factor}, '
                f'form={self.form!r}, init={self.init!r}')
