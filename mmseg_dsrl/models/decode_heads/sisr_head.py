"""SISR head of DSRL: ESPCN-style sub-pixel image reconstruction."""
from typing import Any, List, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.typing_utils import OptConfigType, OptMultiConfig
from ..functional.head_outputs import feature_maps


@MODELS.register_module()
class SISRHead(BaseModule):
    """Single Image Super-Resolution head (training-only branch of DSRL).

    Reconstructs the HR image from shared LR features with post-upsampling
    by sub-pixel convolution (ESPCN, Shi et al. CVPR 2016):

    .. code:: text

        feats[in_index] -> conv5x5(c0) + act -> conv3x3(c1) + act -> ...
                        -> conv3x3(3 * r * r) -> PixelShuffle(r) -> image

    Args:
        in_channels (int): Channels of the tapped feature map. The DSRL
            segmentor measures it at build time (and checks a given value),
            so configs usually leave it unset.
        upscale_factor (int): ``r``: stride of the tapped features relative
            to the HR image. Measured like ``in_channels``.
        in_index (int): Which backbone/neck output to read. Default -1.
        channels (Sequence[int]): Hidden widths. Default (64, 32) (ESPCN).
        out_channels (int): Image channels. Default 3.
        act_cfg (dict, optional): Hidden activation. Default Tanh (ESPCN).
        loss (dict, optional): Reconstruction loss; the target is the
            normalised HR image. Default ``PixelMSELoss`` with weight 0.1
            (DSRL's w_sr).
        fa_features (str): What :meth:`loss` hands to the FA loss: 'image'
            (the reconstruction, as in the paper and the official code) or
            'hidden' (the last hidden layer before the sub-pixel conv,
            bilinearly brought to the HR size: richer than 3 channels).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 upscale_factor: int,
                 in_index: int = -1,
                 channels: Sequence[int] = (64, 32),
                 out_channels: int = 3,
                 act_cfg: OptConfigType = None,
                 loss: OptConfigType = None,
                 fa_features: str = 'image',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        if fa_features not in ('image', 'hidden'):
            raise ValueError(f"fa_features must be 'image' or 'hidden', got "
                             f'{fa_features!r}')
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'in_channels must be an int >= 1, got '
                             f'{in_channels!r}')
        if not isinstance(upscale_factor, int) or upscale_factor < 1:
            raise ValueError(f'upscale_factor must be an int >= 1, got '
                             f'{upscale_factor!r}')
        if len(channels) < 1:
            raise ValueError('channels needs at least one hidden width')
        act_cfg = dict(type='Tanh') if act_cfg is None else act_cfg
        loss = dict(type='PixelMSELoss', loss_weight=0.1) if loss is None \
            else loss
        self.in_channels = in_channels
        self.in_index = in_index
        self.upscale_factor = upscale_factor
        layers: List[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(channels):
            k = 5 if i == 0 else 3
            layers += [
                nn.Conv2d(prev, width, k, padding=k // 2),
                build_activation_layer(act_cfg)
            ]
            prev = width
        layers += [
            nn.Conv2d(prev, out_channels * upscale_factor**2, 3, padding=1),
            nn.PixelShuffle(upscale_factor)
        ]
        self.reconstruct = nn.Sequential(*layers)
        self.loss_sr = MODELS.build(loss)
        self.fa_features = fa_features

    def forward(self, inputs: Any) -> Tensor:
        """Reconstructed image, shape (B, 3, h * r, w * r).

        ``inputs`` is what the backbone/neck returns: a tuple of maps, one
        tensor, or ``[feature, cls_token]`` pairs (see
        :func:`~mmseg_dsrl.models.functional.head_outputs.feature_maps`).
        """
        return self.reconstruct(feature_maps(inputs)[self.in_index])

    def pruning_protected_layers(self) -> List[nn.Module]:
        """The sub-pixel convolution: its width is 3 * r * r by
        construction."""
        return [self.reconstruct[-2]]

    def match_target_size(self, image: Tensor,
                          target_size: Tuple[int, int]) -> Tensor:
        """Bring the reconstruction to the HR image size.

        Sizes differ only when the image size is not a multiple of the
        feature stride (e.g. CamVid's 360 rows at stride 16); then the
        reconstruction is resized bilinearly. A difference of a whole stride
        or more means a wrong ``upscale_factor`` and raises.
        """
        size = tuple(image.shape[2:])
        target_size = tuple(target_size)
        if size == target_size:
            return image
        if any(
                abs(s - t) >= self.upscale_factor
                for s, t in zip(size, target_size)):
            raise ValueError(
                f'SISR output {size} does not match the HR image '
                f'{target_size}: upscale_factor={self.upscale_factor} '
                'is not the stride of the tapped features relative to the '
                'HR image')
        return F.interpolate(
            image, size=target_size, mode='bilinear', align_corners=False)

    def loss(self, inputs: List[Tensor],
             hr_images: Tensor) -> Tuple[dict, Tensor]:
        """Reconstruction loss against the HR images.

        Args:
            inputs (list[Tensor]): Backbone/neck outputs.
            hr_images (Tensor): Normalised HR images, shape (B, 3, H, W).

        Returns:
            tuple[dict, Tensor]: ``{loss_name: loss}`` and the features for
            the FA loss at the HR size (see ``fa_features``).
        """
        hidden = self.reconstruct[:-2](feature_maps(inputs)[self.in_index])
        image = self.match_target_size(self.reconstruct[-2:](hidden),
                                       hr_images.shape[2:])
        losses = {self.loss_sr.loss_name: self.loss_sr(image, hr_images)}
        if self.fa_features == 'image':
            return losses, image
        return losses, F.interpolate(
            hidden,
            size=hr_images.shape[2:],
            mode='bilinear',
            align_corners=False)
