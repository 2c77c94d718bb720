"""The DSRL segmentor (Wang et al., CVPR 2020)."""
import copy
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from mmseg.models.segmentors import CascadeEncoderDecoder
from torch import Tensor, nn

from ...utils.typing_utils import (
    ConfigType,
    OptConfigType,
    OptSampleList,
    SampleList,
)
from ..decode_heads.sssr_head import no_score_map_message
from ..distillation import HRTeacher
from ..functional import scaled_size
from ..functional.head_outputs import feature_maps, score_maps
from ..utils.feature_geometry import (
    FeatureGeometryError,
    eval_mode,
    locate_inference_output,
    preserved_buffers,
    run_shapes_only,
    sub_pixel_factor,
    training_structure,
)
from ..utils.host_adapters import (
    class_forward,
    class_predict,
    fixed_size_pooling,
    is_point_head_class,
    needs_data_samples,
    shape_only_ops,
)
from .lr_input_encoder_decoder import (
    LRInputEncoderDecoder,
    check_has_backbone,
)



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
                   [-> HR teacher(HR image) vs SSSR scores (kd.loss_*)]
        predict(): extract_feat(LR image) -> SSSRHead -> resize to image
                   (the SISR head and the FA transform do not run, unless
                   ``test_cfg.output_sisr=True`` asks for the reconstruction
                   in the results, for PSNR/SSIM and visualisation)

    Any segmentor config of mmseg takes DSRL by the same override:
    ``EncoderDecoder`` configs build this class, ``CascadeEncoderDecoder``
    ones (``num_stages`` and a list of heads: OCRNet, PointRend) build
    :class:`DSRLCascadeEncoderDecoder` from the same ``type``. Heads may
    return one class-score map, a tuple or a per-stage list (see
    :class:`SSSRHead`); backbones one tensor, a tuple or
    ``[feature, cls_token]`` pairs.

    The SISR head's ``in_channels`` and ``upscale_factor`` and, for heads
    with several class-score maps, which one the head predicts with, are
    measured at build time on the HR training crop (see
    :mod:`..utils.feature_geometry`); values given in the config are
    checked.

    Args:
        decode_head (dict | list[dict]): The base config's decode head (any
            mmseg head), or a cascade's heads.
        sssr_head (dict, optional): Options of the :class:`SSSRHead` that
            wraps ``decode_head`` (``type`` defaults to 'SSSRHead'; give
            ``upsample_factor``, ``variant``, ...). Default: 2 deconvolution
            stages on the class scores (official release).
        sisr_head (dict, optional): Config of the :class:`SISRHead`
            (``in_channels`` and ``upscale_factor`` may be left out). None
            disables SISR (and FA).
        fa_loss (dict, optional): Config of the :class:`FeatureAffinityLoss`.
            None disables FA.
        hr_teacher (dict, optional): Resolution distillation from a frozen
            model trained at full resolution: ``config``, ``checkpoint``
            and ``pixel_loss`` and/or ``pair_loss`` (see
            :class:`~mmseg_dsrl.models.distillation.HRTeacher`). Training
            only; the teacher is in neither the inference graph nor the
            checkpoints. None (default): no teacher.
        input_scale (float): Backbone input scale in (0, 1]. Default 0.5.
        sssr_stage (int, optional): For cascades, the index of the decode
            head SSSR wraps. Default: the last one that predicts a dense map
            (OCRNet: the OCR head; PointRend: the coarse FPN head, whose HR
            scores the point head refines).
        probe_size (tuple[int, int], optional): HR (H, W) to measure the
            geometry at. Default: ``data_preprocessor.size`` (the training
            crop), else ``test_cfg.crop_size``; a config with none of them
            is refused (a guessed size can measure the wrong geometry).
        **kwargs: Other :class:`mmseg.models.EncoderDecoder` arguments.
    """

    def __init__(self,
                 backbone: OptConfigType = None,
                 decode_head: Union[ConfigType, List[ConfigType]] = None,
                 sssr_head: OptConfigType = None,
                 sisr_head: OptConfigType = None,
                 fa_loss: OptConfigType = None,
                 hr_teacher: OptConfigType = None,
                 input_scale: float = 0.5,
                 sssr_stage: Optional[int] = None,
                 probe_size: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        check_has_backbone(type(self).__name__,
                           dict(kwargs, backbone=backbone))
        if fa_loss is not None and sisr_head is None:
            raise ValueError('fa_loss needs a sisr_head: the FA loss ties '
                             'the SSSR features to the SISR branch')
        sssr_cfg = dict(type='SSSRHead')
        sssr_cfg.update(sssr_head or {})
        if 'head' in sssr_cfg:
            raise ValueError('sssr_head must not contain `head`: the '
                             'segmentor wraps its own decode_head')
        sssr_cfg['with_fa_transform'] = fa_loss is not None
        sssr_cfg['with_hr_scores'] = hr_teacher is not None
        self._sssr_stage = _sssr_stage_index(decode_head, sssr_stage)
        if self._sssr_stage is None:
            sssr_cfg['head'] = decode_head
            decode_head = sssr_cfg
        else:
            decode_head = list(decode_head)
            sssr_cfg['head'] = decode_head[self._sssr_stage]
            decode_head[self._sssr_stage] = sssr_cfg
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            input_scale=input_scale,
            **kwargs)
        self.sisr_head = None
        self.fa_loss = None
        self.probe_size = self._hr_training_size(probe_size)
        _check_predicts_from_features(self.sssr.head)
        feats, head_outputs = self._probe_structure()
        self._check_sssr_outputs(
            head_outputs, fa_loss is not None or hr_teacher is not None)
        if sisr_head is not None:
            self.sisr_head = MODELS.build(
                self._complete_sisr_cfg(sisr_head, feats))
        if fa_loss is not None:
            self.fa_loss = MODELS.build(fa_loss)
            if (self.fa_loss.gradient_to == 'sr'
                    and self.sssr.fa_transform is not None):
                # FA reads the SSSR side detached, so the transform feeding
                # it is a fixed (random-init) projection. Frozen explicitly:
                # under DDP a trainable parameter that never gets a gradient
                # stops the reduction; the optimizer skipped it anyway.
                self.sssr.fa_transform.requires_grad_(False)
        self.hr_teacher = self._build_hr_teacher(hr_teacher)

    def _build_hr_teacher(self, cfg: OptConfigType) -> Optional[HRTeacher]:
        """The :class:`HRTeacher` of ``cfg`` (a plain object, not a
        submodule), checked against this model's classes and
        normalisation."""
        if cfg is None:
            return None
        cfg = dict(cfg)
        known = ('config', 'checkpoint', 'pixel_loss', 'pair_loss')
        unknown = sorted(set(cfg) - set(known))
        missing = [k for k in known[:2] if k not in cfg]
        if unknown or missing:
            raise ValueError(
                f'hr_teacher takes {", ".join(known)} (config and checkpoint '
                f'required); unknown: {unknown}, missing: {missing}')
        pre = self.data_preprocessor
        return HRTeacher(
            num_classes=self.sssr.out_channels,
            mean=getattr(pre, 'mean', None),
            std=getattr(pre, 'std', None),
            **cfg)

    @property
    def sssr(self) -> nn.Module:
        """The :class:`SSSRHead` (the decode head, or the cascade stage that
        ``sssr_stage`` names)."""
        if self._sssr_stage is None:
            return self.decode_head
        return self.decode_head[self._sssr_stage]

    # ------------------------------------------------------------------
    # build-time geometry, measured on the training input
    # ------------------------------------------------------------------
    def _hr_training_size(self, probe_size: Optional[Sequence[int]]
                          ) -> Tuple[int, int]:
        """HR size the geometry is measured at: ``probe_size``, else the
        data preprocessor's ``size`` (the training crop), else
        ``test_cfg.crop_size``.

        Raises:
            ValueError: none is given, or one is not (H, W) positive ints.
        """
        candidates = [
            ('probe_size', probe_size),
            ('data_preprocessor.size',
             getattr(self.data_preprocessor, 'size', None)),
            ('test_cfg.crop_size', (self.test_cfg or {}).get('crop_size')),
        ]
        for name, size in candidates:
            if size is None:
                continue
            if isinstance(size, int):
                size = (size, size)
            if (len(size) != 2 or not all(
                    isinstance(v, int) and v > 0 for v in size)):
                raise ValueError(f'{name} must be (H, W) positive ints, got '
                                 f'{size!r}')
            return tuple(size)
        raise ValueError(
            'DSRL measures the SISR head\'s input and the feature geometry on '
            'the HR training crop, but this config gives no size: set '
            'model.data_preprocessor.size=(H, W) (the HR crop the pipeline '
            'pads to), or model.probe_size=(H, W), or '
            'model.test_cfg.crop_size (slide inference)')

    def _stage_args(self, x: Any) -> tuple:
        """What the SSSR stage's head takes after the features: nothing, or
        a cascade's previous stage output."""
        if not self._sssr_stage:
            return ()
        out = self.decode_head[0].forward(x)
        for i in range(1, self._sssr_stage):
            out = self.decode_head[i].forward(x, out)
        return (out, )

    def _raw_head_outputs(self, x: Any) -> Any:
        return class_forward(self.sssr.head, x, *self._stage_args(x))

    def _probe_structure(self) -> Tuple[List[Tensor], Any]:
        """Backbone/neck maps and the SSSR-wrapped head's raw outputs in
        their training structure, shapes only, for one HR image of
        ``self.probe_size``."""

        def run(image: Tensor) -> Tuple[List[Tensor], Any]:
            x = self.extract_feat(image)
            return feature_maps(x), self._raw_head_outputs(x)

        param = next(self.parameters())
        image = param.new_zeros((1, 3, *self.probe_size))
        try:
            with preserved_buffers(self), training_structure(self), \
                    shape_only_ops(self):
                return run_shapes_only(run, image)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise FeatureGeometryError(self._probe_failure(e)) from e

    def _probe_failure(self, error: Exception) -> str:
        lr = scaled_size(self.probe_size, self.input_scale)
        message = (
            f'DSRL measures the feature geometry on the training input: HR '
            f'{self.probe_size} (data_preprocessor.size, or probe_size) at '
            f'input_scale={self.input_scale}, so the backbone sees {lr}; '
            f'the model cannot run on it: {type(error).__name__}: {error}')
        img_size = getattr(self.backbone, 'img_size', None)
        if img_size is not None:
            if isinstance(img_size, int):
                img_size = (img_size, img_size)
            if tuple(img_size) != lr:
                message += (
                    f'. {type(self.backbone).__name__} is built for '
                    f'img_size={tuple(img_size)}: set '
                    f'model.backbone.img_size={lr} (the LR crop)')
        pools = fixed_size_pooling(self)
        if pools and 'too small' in str(error):
            where = ', '.join(f'{name} (kernel {k})' for name, k in pools)
            message += (
                f'. The model pools with fixed kernels sized for full-'
                f'resolution features: {where}; at input_scale='
                f'{self.input_scale} their input is smaller than the kernel. '
                'Train on larger HR crops (model.data_preprocessor.size and '
                'the pipeline\'s crop), raise input_scale, or give the head '
                'a pooling that adapts to its input size')
        return message

    def _check_sssr_outputs(self, outputs: Any, with_fa: bool) -> None:
        """The wrapped head must return class scores; with several maps and
        FA or a teacher (``with_fa``), find the one it predicts with."""
        sssr = self.sssr
        maps = score_maps(outputs, sssr.out_channels)
        if not maps:
            raise ValueError(no_score_map_message(sssr.head, outputs))
        if (len(maps) > 1 and with_fa
                and sssr.inference_output_index is None):
            sssr.inference_output_index = self._locate_inference_output()

    @torch.no_grad()
    def _locate_inference_output(self) -> int:
        """Run the wrapped head in training structure and in eval mode on
        the same (random, real) input and match its prediction to one of
        its training-time class-score maps."""
        sssr = self.sssr
        head = sssr.head
        param = next(self.parameters())
        image = torch.randn((1, 3, *self.probe_size),
                            generator=torch.Generator().manual_seed(0)).to(
                                param)
        with preserved_buffers(self), training_structure(self):
            maps = score_maps(
                self._raw_head_outputs(self.extract_feat(image)),
                sssr.out_channels)
        size = tuple(maps[0].shape[2:])
        metas = [dict(img_shape=size, pad_shape=size, ori_shape=size)]
        with eval_mode(self):
            x = self.extract_feat(image)
            predicted = class_predict(head, x, *self._stage_args(x), metas,
                                      self.test_cfg)
        return locate_inference_output(maps, predicted, sssr.align_corners,
                                       type(head).__name__)

    def _complete_sisr_cfg(self, sisr_head: ConfigType,
                           feats: List[Tensor]) -> ConfigType:
        """Fill in, or check, the SISR head's input channels and upscale
        factor from the maps measured on the training input."""
        cfg = copy.deepcopy(sisr_head)
        in_index = cfg.get('in_index', -1)
        try:
            feat = feats[in_index]
        except IndexError:
            raise ValueError(
                f'sisr_head.in_index={in_index} but the '
                f'backbone/neck has {len(feats)} outputs') from None
        channels, size = int(feat.shape[1]), tuple(feat.shape[2:])
        lr = scaled_size(self.probe_size, self.input_scale)
        where = (f'the features at sisr_head.in_index={in_index} have '
                 f'{channels} channels and size {size} for HR '
                 f'{self.probe_size} (LR {lr})')
        given = cfg.get('in_channels')
        if given is None:
            cfg['in_channels'] = channels
        elif given != channels:
            raise ValueError(f'sisr_head.in_channels={given}, but {where}: '
                             f'set in_channels={channels} or leave it unset')
        stride = sub_pixel_factor(self.probe_size, size)
        if stride is None:
            raise ValueError(
                f'{where}: no integer sub-pixel factor reconstructs the HR '
                'image from them; tap another feature map')
        given = cfg.get('upscale_factor')
        if given is None:
            cfg['upscale_factor'] = stride
        elif given != stride:
            raise ValueError(
                f'sisr_head.upscale_factor={given} would not reconstruct the '
                f'HR image: with input_scale={self.input_scale} {where}, '
                f'i.e. at 1/{stride} of the HR image; set '
                f'upscale_factor={stride} or leave it unset')
        return cfg

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """SSSR + auxiliary + SISR + FA losses.

        Args:
            inputs (Tensor): Normalised HR images, shape (B, 3, H, W).
            data_samples (list[SegDataSample]): With HR ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: Loss terms, each under its own name.
        """
        x = self.extract_feat(inputs)
        if self._sssr_stage is None:
            decode_losses, sssr_out = self.sssr.loss_and_features(
                x, data_samples, self.train_cfg)
            losses = add_prefix(decode_losses, 'decode')
        else:
            # A cascade's stages, trained by the host segmentor (it calls
            # each stage's ``loss``; the SSSR stage keeps what FA and the
            # teacher read).
            losses = self._decode_head_forward_train(x, data_samples)
            sssr_out = self.sssr.pop_training_features()
        sssr_feats = sssr_out.fa_features
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        if self.sisr_head is not None:
            sr_losses, sr_feats = self.sisr_head.loss(x, inputs)
            losses.update(add_prefix(sr_losses, 'sisr'))
            if self.fa_loss is not None:
                # The SSSR features are brought to the HR size of the SISR
                # side inside the loss (fused with its subsampling).
                fa = self.fa_loss(
                    sssr_feats,
                    sr_feats,
                    seg_align_corners=self.align_corners)
                losses[f'fa.{self.fa_loss.loss_name}'] = fa
        if self.hr_teacher is not None:
            losses.update(
                add_prefix(
                    self.hr_teacher.losses(sssr_out.hr_scores, inputs,
                                           self.align_corners), 'kd'))
        return losses

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        """``mode='tensor'`` (the graph that is exported and benchmarked):
        the SSSR head's class scores at the HR input size, resized there by
        its upsampling itself, so that the graph computes what
        :meth:`predict` computes (before mmseg's crop of the padding)."""
        with self.sssr.upsample.resized_to(inputs.shape[2:]):
            return super()._forward(inputs, data_samples)

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


def _check_predicts_from_features(head: nn.Module) -> None:
    """SSSR calls the wrapped head with features only; heads whose forward
    needs the data samples are query-based mask classifiers (MaskFormer,
    Mask2Former), to which DSRL does not apply."""
    if needs_data_samples(head):
        raise ValueError(no_score_map_message(head, 'its forward needs the '
                                              'data samples'))


def _is_point_head(cfg: ConfigType) -> bool:
    """Whether a head config builds a point-refinement head (PointRend's
    interface: it samples points from the previous stage's dense scores
    instead of predicting a dense map)."""
    head_type = cfg.get('type') if isinstance(cfg, dict) else None
    cls = MODELS.get(head_type) if isinstance(head_type, str) else head_type
    return is_point_head_class(cls)


def _sssr_stage_index(decode_head: Any,
                      sssr_stage: Optional[int]) -> Optional[int]:
    """Which decode head SSSR wraps: None for a single head; for a
    cascade (list), ``sssr_stage`` or by default the last stage that
    predicts a dense map (OCRNet: the OCR head; PointRend: the FPN head, whose
    HR scores the point head then samples)."""
    if not isinstance(decode_head, (list, tuple)):
        if sssr_stage not in (None, 0):
            raise ValueError(f'sssr_stage={sssr_stage} needs a cascade '
                             '(a list of decode heads); this config has one')
        return None
    stages = len(decode_head)
    if sssr_stage is None:
        dense = [i for i, h in enumerate(decode_head) if not _is_point_head(h)]
        if not dense:
            raise ValueError('no decode head of the cascade predicts a '
                             'dense class-score map for SSSR to upsample')
        return dense[-1]
    if not isinstance(sssr_stage, int) or not -stages <= sssr_stage < stages:
        raise ValueError(f'sssr_stage must index the {stages} decode heads '
                         f'of the cascade, got {sssr_stage!r}')
    return sssr_stage % stages


@MODELS.register_module()
class DSRLCascadeEncoderDecoder(DSRLEncoderDecoder, CascadeEncoderDecoder):
    """:class:`DSRLEncoderDecoder` for cascade configs (OCRNet, PointRend).

    Built by ``type='DSRLEncoderDecoder'`` when the config has
    ``num_stages``: the stage ``sssr_stage`` is wrapped in the SSSR head
    (by default the last one that predicts a dense map); earlier stages run
    at LR as before and later ones (PointRend's point head) read the SSSR
    stage's HR scores; every stage keeps its own loss.
    """


DSRLEncoderDecoder.cascade_variant = DSRLCascadeEncoderDecoder
