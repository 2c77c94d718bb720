"""The DSRL segmentor (Wang et al., CVPR 2020)."""
import copy
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ...utils.typing_utils import (
    ConfigType,
    OptConfigType,
    OptSampleList,
    SampleList,
)
from ..functional import scaled_size
from .lr_input_encoder_decoder import LRInputEncoderDecoder

# Side of the zero image used at build time to measure feature strides.
_PROBE_SIZE = 256


@MODELS.register_module()
class DSRLEncoderDecoder(LRInputEncoderDecoder):
    """Dual Super-Resolution Learning for Semantic Segmentation.

    `Paper <https://openaccess.thecvf.com/content_CVPR_2020/papers/Wang_Dual_Super-Resolution_Learning_for_Semantic_Segmentation_CVPR_2020_paper.pdf>`_.

    The data preprocessor gives the dataset's image (the HR image); the
    backbone sees it downsampled by ``input_scale``. The base config's
    ``decode_head`` is wrapped, unchanged, in an :class:`SSSRHead` that
    upsamples its prediction with transposed convolutions.

    .. code:: text

        loss():    extract_feat(LR image)
                   -> SSSRHead: CE vs HR label         (decode.loss_*)
                   -> auxiliary heads (as in the base)  (aux*.loss_*)
                   -> SISRHead: MSE vs HR image         (sisr.loss_sr)
                   -> FA(transform(SSSR feats), SISR image) (fa.loss_fa)
        predict(): extract_feat(LR image) -> SSSRHead -> resize to image
                   (the SISR head and the FA transform do not run, unless
                   ``test_cfg.output_sisr=True`` asks for the reconstruction
                   in the results, for PSNR/SSIM and visualisation)

    Args:
        decode_head (dict): The base config's decode head (any mmseg head).
        sssr_head (dict, optional): Options of the :class:`SSSRHead` that
            wraps ``decode_head`` (``type`` defaults to 'SSSRHead'; give
            ``upsample_factor``, ``variant``, ...). Default: 2 deconvolution
            stages on the class scores (official release).
        sisr_head (dict, optional): Config of the :class:`SISRHead`; its
            ``upscale_factor`` is measured at build time when not given, and
            checked when given. None disables SISR (and FA).
        fa_loss (dict, optional): Config of the :class:`FeatureAffinityLoss`.
            None disables FA.
        input_scale (float): Backbone input scale in (0, 1]. Default 0.5.
        **kwargs: Other :class:`mmseg.models.EncoderDecoder` arguments.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 sssr_head: OptConfigType = None,
                 sisr_head: OptConfigType = None,
                 fa_loss: OptConfigType = None,
                 input_scale: float = 0.5,
                 **kwargs) -> None:
        if fa_loss is not None and sisr_head is None:
            raise ValueError('fa_loss needs a sisr_head: the FA loss ties '
                             'the SSSR features to the SISR branch')
        sssr_cfg = dict(type='SSSRHead')
        sssr_cfg.update(sssr_head or {})
        if 'head' in sssr_cfg:
            raise ValueError('sssr_head must not contain `head`: the '
                             'segmentor wraps its own decode_head')
        sssr_cfg['head'] = decode_head
        sssr_cfg['with_fa_transform'] = fa_loss is not None
        super().__init__(
            backbone=backbone,
            decode_head=sssr_cfg,
            input_scale=input_scale,
            **kwargs)
        self.sisr_head = None
        self.fa_loss = None
        if sisr_head is not None:
            self.sisr_head = MODELS.build(self._complete_sisr_cfg(sisr_head))
        if fa_loss is not None:
            self.fa_loss = MODELS.build(fa_loss)

    # ------------------------------------------------------------------
    # build-time geometry
    # ------------------------------------------------------------------
    @torch.no_grad()
    def _probe_feature_sizes(self, size: int) -> List[Tuple[int, int]]:
        """Spatial sizes of the backbone/neck outputs for a size x size HR
        image (eval mode, zeros; training flags restored)."""
        was_training = self.training
        self.eval()
        try:
            param = next(self.parameters())
            image = param.new_zeros((1, 3, size, size))
            feats = self.extract_feat(image)
        finally:
            self.train(was_training)
        return [tuple(f.shape[2:]) for f in feats]

    def _complete_sisr_cfg(self, sisr_head: ConfigType) -> ConfigType:
        """Fill in or check the SISR upscale factor against the geometry."""
        cfg = copy.deepcopy(sisr_head)
        in_index = cfg.get('in_index', -1)
        sizes = self._probe_feature_sizes(_PROBE_SIZE)
        try:
            feat_h, feat_w = sizes[in_index]
        except IndexError:
            raise ValueError(
                f'sisr_head.in_index={in_index} but the '
                f'backbone/neck has {len(sizes)} outputs') from None
        stride_h, stride_w = _PROBE_SIZE / feat_h, _PROBE_SIZE / feat_w
        if stride_h != stride_w or stride_h != int(stride_h):
            raise ValueError(
                f'the features at sisr_head.in_index={in_index} have size '
                f'{(feat_h, feat_w)} for a {_PROBE_SIZE}x{_PROBE_SIZE} HR '
                'image: no integer sub-pixel factor reconstructs the HR '
                'image from them; tap another feature map')
        stride = int(stride_h)
        given = cfg.get('upscale_factor')
        if given is None:
            cfg['upscale_factor'] = stride
        elif given != stride:
            lr = scaled_size((_PROBE_SIZE, _PROBE_SIZE), self.input_scale)
            raise ValueError(
                f'sisr_head.upscale_factor={given} would not reconstruct the '
                f'HR image: with input_scale={self.input_scale} the tapped '
                f'features (in_index={in_index}) are at 1/{stride} of the HR '
                f'image (e.g. {(feat_h, feat_w)} for HR '
                f'{(_PROBE_SIZE, _PROBE_SIZE)}, LR {lr}); set '
                f'upscale_factor={stride} or leave it unset')
        return cfg

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def _align_fa_features(self, sssr_feats: Tensor,
                           sr_image: Tensor) -> Tensor:
        """Bilinearly bring the SSSR FA features to the HR size of the SISR
        reconstruction (the FA loss compares positions one to one)."""
        if sssr_feats.shape[2:] == sr_image.shape[2:]:
            return sssr_feats
        return F.interpolate(
            sssr_feats,
            size=sr_image.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)

    def _sssr_forward_train(
            self, x: List[Tensor],
            data_samples: SampleList) -> Tuple[dict, Optional[Tensor]]:
        if self.fa_loss is None:
            return self._decode_head_forward_train(x, data_samples), None
        losses, fa_feats = self.decode_head.loss_and_fa_features(
            x, data_samples, self.train_cfg)
        return add_prefix(losses, 'decode'), fa_feats

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """SSSR + auxiliary + SISR + FA losses.

        Args:
            inputs (Tensor): Normalised HR images, shape (B, 3, H, W).
            data_samples (list[SegDataSample]): With HR ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: Loss terms, each under its own name.
        """
        x = self.extract_feat(inputs)
        losses, sssr_feats = self._sssr_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        if self.sisr_head is not None:
            sr_losses, sr_image = self.sisr_head.loss(x, inputs)
            losses.update(add_prefix(sr_losses, 'sisr'))
            if self.fa_loss is not None:
                fa = self.fa_loss(
                    self._align_fa_features(sssr_feats, sr_image), sr_image)
                losses[f'fa.{self.fa_loss.loss_name}'] = fa
        return losses

    # ------------------------------------------------------------------
    # opt-in SISR output at test time
    # ------------------------------------------------------------------
    def _denormalize(self, images: Tensor) -> Tensor:
        """Undo the data preprocessor's normalisation (to 0-255 RGB)."""
        pre = self.data_preprocessor
        if not getattr(pre, '_enable_normalize', False):
            return images
        return images * pre.std + pre.mean

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """EncoderDecoder's prediction; with ``test_cfg.output_sisr`` also
        ``sr_image`` and ``hr_image`` (0-255 RGB, cropped to each image's
        ``img_shape``) in every data sample."""
        results = super().predict(inputs, data_samples)
        if not (self.test_cfg or {}).get('output_sisr', False):
            return results
        if self.sisr_head is None:
            raise ValueError('test_cfg.output_sisr needs a sisr_head')
        sr = self.sisr_head.match_target_size(
            self.sisr_head(self.extract_feat(inputs)), inputs.shape[2:])
        sr, hr = self._denormalize(sr), self._denormalize(inputs)
        for i, sample in enumerate(results):
            h, w = sample.metainfo.get('img_shape', inputs.shape[2:])[:2]
            sample.sr_image = PixelData(data=sr[i, :, :h, :w].clamp(0, 255))
            sample.hr_image = PixelData(data=hr[i, :, :h, :w])
        return results
