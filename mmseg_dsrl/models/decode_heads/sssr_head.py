"""SSSR head of DSRL: any mmseg decode head + learned upsampling to HR."""
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.typing_utils import (
    ConfigType,
    OptConfigType,
    OptMultiConfig,
    SampleList,
)
from ..functional.head_outputs import (
    describe_structure,
    map_score_maps,
    score_maps,
)
from ..layers import SSSRUpsample
from ..utils.host_adapters import (
    class_forward,
    exposes_features,
    forward_replaced,
    keeps_default_label_resize,
    keeps_default_loss,
    keeps_default_predict,
)

_VARIANTS = ('logits', 'features')


class SSSRTrainingFeatures(NamedTuple):
    """What the DSRL segmentor's extra losses read from an SSSR training
    step, besides the wrapped head's own loss terms.

    Attributes:
        fa_features (Tensor | None): The FA transform's output (None when
            the head has no FA transform).
        hr_scores (Tensor | None): The class-score map the wrapped head
            predicts with, as its loss receives it (after SSSR's learned
            upsampling; mmseg's losses resize it to the label bilinearly),
            before any softmax: what an HR teacher distils into (None unless
            the head was built ``with_hr_scores``).
    """
    fa_features: Optional[Tensor]
    hr_scores: Optional[Tensor]


@MODELS.register_module()
class SSSRHead(BaseModule):
    """Semantic Segmentation Super-Resolution head (DSRL, CVPR 2020).

    `Dual Super-Resolution Learning for Semantic Segmentation
    <https://openaccess.thecvf.com/content_CVPR_2020/papers/Wang_Dual_Super-Resolution_Learning_for_Semantic_Segmentation_CVPR_2020_paper.pdf>`_.

    Wraps an unchanged mmseg decode head and adds :class:`SSSRUpsample`
    (stride-2 transposed convolutions; by default plain ones initialised to
    the wrapped head's own bilinear x2, so that at initialisation DSRL
    predicts what the head predicts by resizing, see ``form``) after it:

    .. code:: text

        'logits'   (official release):
            head(x) -> class scores -> deconvs -> HR class scores
        'features' (heads that expose ``_forward_feature``: FCNHead,
                    PSPHead, ASPPHead, UPerHead; BiSeNetV1 and mmseg's
                    ICNet use FCNHead):
            head._forward_feature(x) -> deconvs -> head.cls_seg -> HR scores

    Any remaining factor to the HR label / image size is bilinear (here in
    training, in the wrapped head's ``predict_by_feat`` at inference); the
    wrapped head's losses, sampler and ignore index are used unchanged.

    Heads that return several outputs (a tuple, a per-stage list, class
    scores next to a (B, K) SE vector) keep their structure: every
    (B, K, h, w) class-score map in it goes through the same learned
    upsampling, everything else is left alone, and the wrapped head's own
    ``loss`` / ``predict`` receive the result (so each head picks and
    supervises its outputs exactly as it does without DSRL). Cascade stages
    (OCRHead) get their ``prev_output`` passed through.

    For DSRL's Feature Affinity loss, :meth:`loss_and_features` also
    returns the HR map before the prediction (the HR scores for 'logits')
    passed through a 1x1 conv + BN + ReLU feature transform (the transform
    runs in training only), and the HR class scores the head predicts with
    (for an HR teacher, :class:`~mmseg_dsrl.models.distillation.HRTeacher`).

    Heads that keep mmseg's ``forward`` -> ``loss_by_feat`` /
    ``predict_by_feat`` split get SSSR's HR outputs through that split; for
    heads with their own ``loss`` / ``predict`` (cascade stages, ICNet's
    guidance heads), the head's ``forward`` is replaced for the duration of
    the call (:func:`~mmseg_dsrl.models.utils.host_adapters.forward_replaced`),
    so that their own code runs on the HR outputs.

    Args:
        head (dict): Config of the wrapped decode head.
        upsample_factor (int): Learned upsampling, a power of two. Default
            4 (two stages, as in the official release).
        variant (str): 'logits' or 'features'. Default 'logits'.
        form (str): The upsampling stages (:class:`SSSRUpsample`):
            'linear' (default; plain deconvolutions in the wrapped head's
            ``align_corners`` convention) or 'norm-act' (3x3 deconvolutions
            + norm + activation; for 'logits' the last stage plain, unless
            ``plain_last=False``; the official release is 'norm-act' with a
            PReLU on every stage).
        norm_cfg (dict, optional): Norm of the FA transform and of the
            'norm-act' stages. Default BN.
        act_cfg (dict, optional): Activation of the 'norm-act' stages.
            Default ReLU.
        plain_last (bool, optional): 'norm-act': whether the last stage is
            a plain deconvolution. Default: for 'logits' only.
        fa_transform_channels (int, optional): Output channels of the FA
            feature transform; None keeps the input channels. Only used when
            ``with_fa_transform``.
        with_fa_transform (bool): Build the FA feature transform. The DSRL
            segmentor sets this when it has an FA loss.
        with_hr_scores (bool): Return the HR class scores the head predicts
            with from :meth:`loss_and_features`. The DSRL segmentor sets
            this when it has an HR teacher.
        deconv_init (str): 'bilinear' (default): the deconvolutions start
            as linear upsampling, so SSSR starts where the bilinear LR
            baseline is; 'default': PyTorch's random init.
        inference_output_index (int, optional): For heads that return
            several class-score maps in training (DAHead, EncHead, DDRHead,
            PIDHead, K-Net): which of them (in depth-first order) the head
            predicts with; the FA loss reads that one. The DSRL segmentor
            measures it at build time; None for single-output heads.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 head: ConfigType,
                 upsample_factor: int = 4,
                 variant: str = 'logits',
                 form: str = 'linear',
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 plain_last: Optional[bool] = None,
                 fa_transform_channels: Optional[int] = None,
                 with_fa_transform: bool = False,
                 with_hr_scores: bool = False,
                 deconv_init: str = 'bilinear',
                 inference_output_index: Optional[int] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        if variant not in _VARIANTS:
            raise ValueError(f'variant must be one of {_VARIANTS}, got '
                             f'{variant!r}')
        self.head = MODELS.build(head)
        self.variant = variant
        if variant == 'features':
            if not exposes_features(self.head):
                raise ValueError(
                    f"variant='features' needs a head whose forward() is "
                    f'cls_seg(_forward_feature()) (FCNHead, PSPHead, '
                    f'ASPPHead, UPerHead); {type(self.head).__name__} '
                    f"computes its output otherwise: use variant='logits'")
            channels = self.head.channels
        else:
            channels = self.head.out_channels
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        self.upsample = SSSRUpsample(
            channels,
            upsample_factor,
            form=form,
            align_corners=self.head.align_corners,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            plain_last=variant == 'logits'
            if plain_last is None else plain_last,
            init=deconv_init)
        self.inference_output_index = inference_output_index
        self.with_hr_scores = with_hr_scores
        self._training_features: Optional[SSSRTrainingFeatures] = None
        self.fa_transform: Optional[nn.Module] = None
        if with_fa_transform:
            self.fa_transform = ConvModule(
                channels,
                fa_transform_channels or channels,
                kernel_size=1,
                norm_cfg=norm_cfg,
                act_cfg=dict(type='ReLU'))

    _OWN_PREFIXES = ('head.', 'upsample.', 'fa_transform.')

    @classmethod
    def move_plain_head_keys(cls, state_dict: dict, prefix: str) -> None:
        """In place: a checkpoint of the segmentor without DSRL (an LR
        baseline, a pretrained model) has its decode head's weights at
        ``{prefix}{name}``; they are the wrapped head's
        ``{prefix}head.{name}`` (moved unless the checkpoint has that too).
        """
        for key in [k for k in state_dict if k.startswith(prefix)]:
            rest = key[len(prefix):]
            if not rest.startswith(cls._OWN_PREFIXES) and \
                    f'{prefix}head.{rest}' not in state_dict:
                state_dict[f'{prefix}head.{rest}'] = state_dict.pop(key)

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              *args, **kwargs) -> None:
        """Loads a checkpoint of the model without DSRL too
        (:meth:`move_plain_head_keys`), e.g. ``load_from`` an LR baseline's
        or a pretrained model's checkpoint to fine-tune it with DSRL."""
        self.move_plain_head_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # The segmentor and mmseg's post-processing read these from decode_head.
    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    @property
    def out_channels(self) -> int:
        return self.head.out_channels

    @property
    def align_corners(self) -> bool:
        return self.head.align_corners

    @property
    def ignore_index(self) -> int:
        return self.head.ignore_index

    @property
    def threshold(self) -> Optional[float]:
        return self.head.threshold

    @property
    def upsample_factor(self) -> int:
        return self.upsample.upsample_factor

    @property
    def fa_channels(self) -> int:
        """Channels of the FA features returned in training."""
        if self.fa_transform is None:
            raise ValueError('this SSSRHead was built without the FA '
                             'transform (with_fa_transform=False)')
        return self.fa_transform.conv.out_channels

    # ------------------------------------------------------------------
    # the wrapped head's output at HR
    # ------------------------------------------------------------------
    def _main_score_map(self, outputs: Any) -> Tensor:
        """The class-score map the wrapped head predicts with."""
        if isinstance(outputs, Tensor):
            return outputs
        maps = score_maps(outputs, self.out_channels)
        if not maps:
            raise ValueError(no_score_map_message(self.head, outputs))
        index = self.inference_output_index
        if index is None and len(maps) > 1:
            raise ValueError(
                f'{type(self.head).__name__} returns {len(maps)} class-score '
                'maps in training; set SSSRHead.inference_output_index to '
                'the one it predicts with (the DSRL segmentor measures it '
                'at build time)')
        return maps[index or 0]

    def _hr_outputs(self,
                    inputs: List[Tensor],
                    *args,
                    with_fa_source: Optional[bool] = None
                    ) -> Tuple[Any, Optional[Tensor]]:
        """The wrapped head's output with every class-score map at HR, and
        the HR map the FA loss reads (before the prediction layer; None
        unless ``with_fa_source``, which defaults to training with the FA
        transform)."""
        if with_fa_source is None:
            with_fa_source = self.training and self.fa_transform is not None
        head = self.head
        if self.variant == 'features':
            feats = self.upsample(head._forward_feature(inputs))
            return head.cls_seg(feats), feats if with_fa_source else None
        # The class's forward, not ``head.forward``: inside
        # ``forward_replaced`` the latter is SSSR's replacement.
        outputs = map_score_maps(
            class_forward(head, inputs, *args), self.upsample,
            self.out_channels)
        if not with_fa_source:
            return outputs, None
        return outputs, self._main_score_map(outputs)

    def forward(self, inputs: List[Tensor], *args) -> Any:
        """The wrapped head's output with its class-score maps at HR: shape
        (B, K, h * f, w * f) for a head output of size (h, w) and
        ``f = upsample_factor`` ((h - 1) * f + 1, ... for the 'linear' form
        of an ``align_corners=True`` head: its grid's samples). ``args`` go to the wrapped head (a cascade
        stage's ``prev_output``)."""
        return self._hr_outputs(inputs, *args, with_fa_source=False)[0]

    def _to_label_size(self, batch_data_samples: SampleList
                       ) -> Optional[Callable[[Tensor], Tensor]]:
        """Bilinear resize of HR scores to the HR label's size, where the
        wrapped head's own loss does not do it.

        mmseg's ``BaseDecodeHead.loss`` / ``loss_by_feat`` resize the scores
        to the label size themselves (bilinear, the head's
        ``align_corners``): for heads that keep both, this returns None and
        that single resize is the one. Heads with their own loss (ICNet's
        guidance heads downsample the label instead) get the resize here,
        so that they are supervised at HR, as DSRL requires."""
        if keeps_default_label_resize(self.head):
            return None
        size = batch_data_samples[0].gt_sem_seg.data.shape[-2:]

        def resize(scores: Tensor) -> Tensor:
            if scores.shape[2:] == size:
                return scores
            return F.interpolate(
                scores,
                size=size,
                mode='bilinear',
                align_corners=self.align_corners)

        return resize

    def loss_and_features(self, inputs: List[Tensor], *args
                          ) -> Tuple[dict, SSSRTrainingFeatures]:
        """The wrapped head's losses on its outputs at the HR label size,
        and what DSRL's other losses read from the same step.

        Args:
            inputs (list[Tensor]): Backbone/neck outputs.
            *args: What the wrapped head's ``loss`` takes after ``inputs``:
                ``(batch_data_samples, train_cfg)``, or
                ``(prev_output, batch_data_samples, train_cfg)`` for a
                cascade stage.

        Returns:
            tuple[dict[str, Tensor], SSSRTrainingFeatures]: The wrapped
            head's loss terms, and the FA features (None without the FA
            transform) with the HR class scores.
        """
        with_fa = self.fa_transform is not None
        batch_data_samples = args[-2]
        resize = self._to_label_size(batch_data_samples)

        def hr_outputs(inputs: List[Tensor], *head_args
                       ) -> Tuple[Any, SSSRTrainingFeatures]:
            outputs, fa_source = self._hr_outputs(
                inputs, *head_args, with_fa_source=with_fa)
            fa_feats = self.fa_transform(fa_source) if with_fa else None
            if resize is not None:
                outputs = map_score_maps(outputs, resize, self.out_channels)
            return outputs, SSSRTrainingFeatures(
                fa_feats,
                self._main_score_map(outputs) if self.with_hr_scores
                else None)

        label_size = batch_data_samples[0].gt_sem_seg.data.shape[-2:]
        with self.upsample.resized_to(label_size):
            if keeps_default_loss(self.head) and len(args) == 2:
                outputs, feats = hr_outputs(inputs)
                return self.head.loss_by_feat(outputs,
                                              batch_data_samples), feats
            kept: List[Optional[SSSRTrainingFeatures]] = [None]

            def forward(inputs: List[Tensor], *head_args) -> Any:
                outputs, kept[0] = hr_outputs(inputs, *head_args)
                return outputs

            with forward_replaced(self.head, forward):
                losses = self.head.loss(inputs, *args)
        return losses, kept[0]

    def loss(self, inputs: List[Tensor], *args) -> dict:
        """The wrapped head's losses on its HR outputs (the call a host
        segmentor makes; a cascade's ``_decode_head_forward_train``). What
        the step computed for the other losses is kept for
        :meth:`pop_training_features`; callers that can should use
        :meth:`loss_and_features`."""
        losses, self._training_features = self.loss_and_features(
            inputs, *args)
        return losses

    def pop_training_features(self) -> SSSRTrainingFeatures:
        """The FA features and HR scores of the last :meth:`loss` call,
        released so the module holds no graph."""
        feats, self._training_features = self._training_features, None
        if feats is None:
            raise RuntimeError('no SSSR training features: call loss() '
                               'first')
        return feats

    def training_graph_outputs(self, inputs: List[Tensor],
                               *args) -> List[Tensor]:
        """Every tensor this head computes in a training step (the HR
        class-score maps and, with FA, the transformed FA features), in any
        mode: for graph tracers such as the filter pruner, which must see
        the training-only layers to resize them."""
        outputs, fa_source = self._hr_outputs(
            inputs, *args, with_fa_source=self.fa_transform is not None)
        outs = score_maps(outputs, self.out_channels)
        if fa_source is not None:
            outs.append(self.fa_transform(fa_source))
        return outs

    def pruning_protected_layers(self) -> List[nn.Module]:
        """Layers whose output width the task fixes: the deconvolutions on
        class scores ('logits') and the FA transform (kept as built, for a
        like-for-like FA loss). The wrapped head's classifier is protected
        by the pruner itself, as every ``conv_seg`` is."""
        keep: List[nn.Module] = []
        if self.variant == 'logits':
            keep += [
                m for m in self.upsample.modules()
                if isinstance(m, nn.ConvTranspose2d)
            ]
        if self.fa_transform is not None:
            keep.append(self.fa_transform)
        return keep

    def predict(self, inputs: List[Tensor], *args) -> Tensor:
        """The wrapped head's prediction from its HR outputs, resized to the
        image by the wrapped head (``args``: ``(batch_img_metas,
        test_cfg)``, with a cascade stage's ``prev_output`` first). The
        upsampling resizes to the size the wrapped head resizes to
        (:func:`prediction_size`), so the 'linear' form gives exactly the
        host's own resize at initialisation."""
        with self.upsample.resized_to(prediction_size(args[-2])):
            if keeps_default_predict(self.head) and len(args) == 2:
                return self.head.predict_by_feat(self.forward(inputs),
                                                 args[0])

            def forward(inputs: List[Tensor], *head_args) -> Any:
                return self.forward(inputs, *head_args)

            with forward_replaced(self.head, forward):
                return self.head.predict(inputs, *args)


def prediction_size(batch_img_metas: List[dict]) -> Tuple[int, int]:
    """The size mmseg's ``BaseDecodeHead.predict_by_feat`` resizes the
    scores to: ``img_shape`` when it is a ``torch.Size``, else
    ``pad_shape``, else ``img_shape``."""
    meta = batch_img_metas[0]
    if isinstance(meta['img_shape'], torch.Size) or 'pad_shape' not in meta:
        return tuple(meta['img_shape'][:2])
    return tuple(meta['pad_shape'][:2])


def no_score_map_message(head: nn.Module, outputs: Any) -> str:
    """Why SSSR cannot wrap a head whose outputs hold no class scores
    (``outputs``: what it returns, or a str saying why it cannot run)."""
    what = outputs if isinstance(outputs, str) else \
        describe_structure(outputs)
    return (
        f'SSSR upsamples per-pixel class scores, but '
        f'{type(head).__name__} returns no (B, {head.out_channels}, H, W) '
        f'map ({what}). Heads that classify masks '
        'with queries (MaskFormer, Mask2Former) predict class scores per '
        'query, not per pixel, so DSRL does not apply to them; use a '
        'per-pixel head (e.g. UPerHead, FPNHead) with the same backbone')
