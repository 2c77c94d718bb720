"""SSSR head of DSRL: any mmseg decode head + learned upsampling to HR."""
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Tuple

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.typing_utils import (
    ConfigType,
    OptConfigType,
    OptMultiConfig,
    SampleList,
)
from ..functional.structures import (
    describe_structure,
    map_score_maps,
    score_maps,
)
from ..layers import SSSRUpsample

_VARIANTS = ('logits', 'features')


def exposes_features(head: nn.Module) -> bool:
    """Whether ``head.forward`` is ``cls_seg(_forward_feature(x))``.

    True when the class that defines ``forward`` also defines
    ``_forward_feature`` (mmseg's FCNHead, PSPHead, ASPPHead, UPerHead). A
    subclass that overrides ``forward`` alone (DepthwiseSeparableASPPHead
    adds a low-level decoder there) would lose that computation.
    """
    for cls in type(head).__mro__:
        if 'forward' in vars(cls):
            return '_forward_feature' in vars(cls)
    return False


@MODELS.register_module()
class SSSRHead(BaseModule):
    """Semantic Segmentation Super-Resolution head (DSRL, CVPR 2020).

    `Dual Super-Resolution Learning for Semantic Segmentation
    <https://openaccess.thecvf.com/content_CVPR_2020/papers/Wang_Dual_Super-Resolution_Learning_for_Semantic_Segmentation_CVPR_2020_paper.pdf>`_.

    Wraps an unchanged mmseg decode head and adds :class:`SSSRUpsample`
    (stride-2 transposed convolutions + norm + activation; for class scores
    the last stage is a plain deconvolution, since a ReLU or a norm on the
    scores would clip negative evidence or remove the class offsets) after
    it:

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

    For DSRL's Feature Affinity loss, :meth:`loss_and_fa_features` also
    returns the HR map before the prediction (the HR scores for 'logits')
    passed through a 1x1 conv + BN + ReLU feature transform. The transform
    runs in training only.

    Args:
        head (dict): Config of the wrapped decode head.
        upsample_factor (int): Learned upsampling, a power of two. Default
            4 (two stages, as in the official release).
        variant (str): 'logits' or 'features'. Default 'logits'.
        norm_cfg (dict, optional): Norm of the deconvolution stages and of
            the FA transform. Default BN.
        act_cfg (dict, optional): Activation of the stages. Default ReLU.
        fa_transform_channels (int, optional): Output channels of the FA
            feature transform; None keeps the input channels. Only used when
            ``with_fa_transform``.
        with_fa_transform (bool): Build the FA feature transform. The DSRL
            segmentor sets this when it has an FA loss.
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
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 fa_transform_channels: Optional[int] = None,
                 with_fa_transform: bool = False,
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
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            linear_last=variant == 'logits',
            init=deconv_init)
        self.inference_output_index = inference_output_index
        self._fa_features: Optional[Tensor] = None
        self.fa_transform: Optional[nn.Module] = None
        if with_fa_transform:
            self.fa_transform = ConvModule(
                channels,
                fa_transform_channels or channels,
                kernel_size=1,
                norm_cfg=norm_cfg,
                act_cfg=dict(type='ReLU'))

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
        # ``_head_outputs_at_hr`` the latter is this head's replacement.
        outputs = map_score_maps(
            type(head).forward(head, inputs, *args), self.upsample,
            self.out_channels)
        if not with_fa_source:
            return outputs, None
        return outputs, self._main_score_map(outputs)

    @contextmanager
    def _head_outputs_at_hr(
            self,
            resize: Optional[Callable[[Tensor], Tensor]] = None,
            keep_fa_features: bool = False) -> Iterator[None]:
        """Within the block, the wrapped head's ``forward`` returns its
        outputs at HR, so its own ``loss`` / ``predict`` (which pick, combine
        and supervise its outputs as they always do) work on the HR maps.

        Args:
            resize: Applied to every HR class-score map (to the label size
                in training).
            keep_fa_features: Store the FA features of this forward for
                :meth:`pop_fa_features`.
        """
        head = self.head

        def forward(inputs, *args):
            outputs, fa_source = self._hr_outputs(inputs, *args)
            if keep_fa_features:
                self._fa_features = self.fa_transform(fa_source)
            if resize is not None:
                outputs = map_score_maps(outputs, resize, self.out_channels)
            return outputs

        head.forward = forward
        try:
            yield
        finally:
            del head.forward

    def forward(self, inputs: List[Tensor], *args) -> Any:
        """The wrapped head's output with its class-score maps at HR: shape
        (B, K, h * f, w * f) for a head output of size (h, w) and
        ``f = upsample_factor``. ``args`` go to the wrapped head (a cascade
        stage's ``prev_output``)."""
        return self._hr_outputs(inputs, *args)[0]

    def _to_label_size(self, batch_data_samples: SampleList
                       ) -> Optional[Callable[[Tensor], Tensor]]:
        """Bilinear resize of HR scores to the HR label's size, where the
        wrapped head's own loss does not do it.

        mmseg's ``BaseDecodeHead.loss`` / ``loss_by_feat`` resize the scores
        to the label size themselves (bilinear, the head's
        ``align_corners``): for heads that keep both, this returns None and
        that single resize is the one (resizing here too made mmseg's an
        HR-to-HR copy, ~25 ms of a 0.5 s CamVid step with its backward).
        Heads with their own loss (ICNet's guidance heads downsample the
        label instead) get the resize here, so that they are supervised at
        HR, as DSRL requires."""
        head_cls = type(self.head)
        if (head_cls.loss is BaseDecodeHead.loss
                and head_cls.loss_by_feat is BaseDecodeHead.loss_by_feat):
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

    def loss(self, inputs: List[Tensor], *args) -> dict:
        """The wrapped head's losses on its outputs at the HR label size.

        Args:
            inputs (list[Tensor]): Backbone/neck outputs.
            *args: What the wrapped head's ``loss`` takes after ``inputs``:
                ``(batch_data_samples, train_cfg)``, or
                ``(prev_output, batch_data_samples, train_cfg)`` for a
                cascade stage.

        Returns:
            dict[str, Tensor]: The wrapped head's loss terms. With the FA
            transform, the FA features of this step are kept for
            :meth:`pop_fa_features`.
        """
        batch_data_samples = args[-2]
        with self._head_outputs_at_hr(
                self._to_label_size(batch_data_samples),
                keep_fa_features=self.fa_transform is not None):
            return self.head.loss(inputs, *args)

    def pop_fa_features(self) -> Tensor:
        """The transformed HR features of the last :meth:`loss` call (for
        the FA loss), released so the module holds no graph."""
        if self.fa_transform is None:
            raise ValueError('this SSSRHead was built without the FA '
                             'transform (with_fa_transform=False)')
        feats, self._fa_features = self._fa_features, None
        if feats is None:
            raise RuntimeError('no FA features: call loss() first')
        return feats

    def loss_and_fa_features(self, inputs: List[Tensor],
                             *args) -> Tuple[dict, Tensor]:
        """Losses plus the transformed HR features for the FA loss."""
        if self.fa_transform is None:
            raise ValueError('this SSSRHead was built without the FA '
                             'transform (with_fa_transform=False)')
        losses = self.loss(inputs, *args)
        return losses, self.pop_fa_features()

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
        test_cfg)``, with a cascade stage's ``prev_output`` first)."""
        with self._head_outputs_at_hr():
            return self.head.predict(inputs, *args)


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
