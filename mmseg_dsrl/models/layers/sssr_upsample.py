"""Learned x2^n upsampling of DSRL's SSSR branch."""
import contextlib
import math
from typing import Iterator, Optional, Tuple

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

    The kernel is FCN's bilinear one, on the diagonal: ``[.5, 1, .5]`` (k=3,
    padding 1: even outputs copy the input, odd ones average two
    neighbours) or ``[.25, .75, .75, .25]`` (k=4, padding 1: the half-pixel
    grid), outer product with itself.
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
    """One stage of the 'linear' form: the official release's
    ``ConvTranspose2d(C, C, 3, stride 2, padding 1, output_padding 1)``, of
    whose 2n outputs the first 2n - 1 are kept (the last one would only see
    the zero padding). Bilinear-initialised, it keeps the n input samples
    and adds the midpoints between them: the piecewise-linear interpolant
    of its input, sampled twice as densely."""

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        return super().forward(x)[:, :, :2 * h - 1, :2 * w - 1]


def half_pixel_grid(x: Tensor, factor: int) -> Tensor:
    """Resample the piecewise-linear interpolant held at the sample grid
    of a x``factor`` upsampling (``factor * (n - 1) + 1`` samples: the n
    input samples and the points between them) at the half-pixel centres
    of ``align_corners=False``, clamped at the borders: ``factor * n``
    samples, exactly ``F.interpolate(input, scale_factor=factor,
    align_corners=False)``. For an even factor the centres lie half-way
    between samples: replicate-pad by ``factor / 2``, average pairs."""
    pad = factor // 2
    return F.avg_pool2d(
        F.pad(x, (pad, pad, pad, pad), mode='replicate'), 2, stride=1)


def _grid_coordinates(m: int, factor: int, size: int, x: Tensor) -> Tensor:
    """Along one axis of ``m = factor * (n - 1) + 1`` grid samples: where
    ``align_corners=False`` resizing of the n samples to ``size`` reads
    (half-pixel centres, clamped to the border), as ``grid_sample``'s
    ``align_corners=True`` coordinates in [-1, 1]."""
    n = (m - 1) // factor + 1
    p = torch.arange(size, device=x.device, dtype=torch.float64)
    u = ((p + 0.5) * n / size - 0.5).clamp(0, n - 1) * factor
    return (u / max(m - 1, 1) * 2 - 1).to(x.dtype)


def resize_sample_grid(x: Tensor, factor: int, size: Tuple[int, int],
                       align_corners: bool) -> Tensor:
    """Resize, to ``size``, the piecewise-linear interpolant of n samples
    held at its x``factor`` sample grid (``factor * (n - 1) + 1`` per side;
    the output of the 'linear' stages), exactly as ``F.interpolate`` resizes
    the n samples themselves in the given convention.

    For ``align_corners=True`` this is ``F.interpolate`` of the grid; for
    ``False`` the half-pixel centres of the n-sample signal are located on
    the grid (clamped to the border) and sampled bilinearly there
    (``F.grid_sample``: as cheap as a resize, forward and backward).
    """
    if align_corners:
        return F.interpolate(x, size=size, mode='bilinear',
                             align_corners=True)
    gy = _grid_coordinates(x.shape[2], factor, size[0], x)
    gx = _grid_coordinates(x.shape[3], factor, size[1], x)
    grid = torch.stack(torch.meshgrid(gx, gy, indexing='xy'), -1)
    return F.grid_sample(
        x,
        grid[None].expand(x.shape[0], -1, -1, -1),
        mode='bilinear',
        padding_mode='border',
        align_corners=True)


class SSSRUpsample(nn.Sequential):
    """Stack of stride-2 transposed convolutions (DSRL's SSSR upsampling).

    Two forms:

    * ``'linear'`` (default): the official 3x3 transposed convolutions,
      plain (no norm, no activation), each keeping its input samples and
      adding the midpoints (:class:`_LinearStage`; f(n - 1) + 1 outputs for
      n inputs after the stages of factor f). Inside
      :meth:`resized_to` (the SSSR head's loss and prediction) the output is
      resized to the given HR size by :func:`resize_sample_grid`:
      bilinear-initialised, exactly what the host's direct bilinear resize
      of its scores gives, in either ``align_corners`` convention, so DSRL
      starts from the function of the model it extends (a pretrained
      baseline's predictions) and learns from there. Outside it (a graph
      traced in ``mode='tensor'``) a host with ``align_corners=False`` gets
      the grid resampled to its half-pixel centres (:func:`half_pixel_grid`;
      f n outputs, which its own resize then interpolates: close to, not
      exactly, the direct resize).
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
                _LinearStage(
                    channels,
                    channels,
                    3,
                    stride=2,
                    padding=1,
                    output_padding=1,
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
        self.align_corners = align_corners
        self.init = init
        self._target_size: Optional[Tuple[int, int]] = None

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
        f = self.upsample_factor
        if self.form == 'linear' and self.align_corners:
            return tuple(f * (n - 1) + 1 for n in size)
        return tuple(f * n for n in size)

    @contextlib.contextmanager
    def resized_to(self, size: Optional[Tuple[int, int]]) -> Iterator[None]:
        """Within the context, the 'linear' form's outputs are resized to
        ``size`` (H, W) exactly as the host would resize its own scores
        (:func:`resize_sample_grid`); the 'norm-act' form is unaffected."""
        previous, self._target_size = self._target_size, (
            None if size is None else tuple(int(v) for v in size))
        try:
            yield
        finally:
            self._target_size = previous

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        if self.form != 'linear':
            return x
        if self._target_size is not None:
            return resize_sample_grid(x, self.upsample_factor,
                                      self._target_size, self.align_corners)
        if not self.align_corners:
            x = half_pixel_grid(x, self.upsample_factor)
        return x

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, '
                f'upsample_factor={self.upsample_factor}, '
                f'form={self.form!r}, align_corners={self.align_corners}, '
                f'init={self.init!r}')
