"""SSSR head of DSRL: any mmseg decode head + learned upsampling to HR."""
from typing import List, Optional, Tuple

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

    def _forward_hr(self, inputs: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Return (HR class scores, HR map before the prediction)."""
        if self.variant == 'logits':
            scores = self.upsample(self.head(inputs))
            return scores, scores
        feats = self.upsample(self.head._forward_feature(inputs))
        return self.head.cls_seg(feats), feats

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """HR class scores, shape (B, K, h * f, w * f) for a head output of
        size (h, w) and ``f = upsample_factor``."""
        return self._forward_hr(inputs)[0]

    def _to_label_size(self, scores: Tensor,
                       batch_data_samples: SampleList) -> Tensor:
        """Bilinearly bring the scores to the HR label's size, the one
        place where the SSSR output meets the label. mmseg's heads would do
        the same resize in ``loss_by_feat``; doing it here also keeps heads
        that downsample the label instead (ICNet's guidance heads) supervised
        at HR, as DSRL requires."""
        size = batch_data_samples[0].gt_sem_seg.data.shape[-2:]
        if scores.shape[2:] == size:
            return scores
        return F.interpolate(
            scores, size=size, mode='bilinear',
            align_corners=self.align_corners)

    def loss(self, inputs: List[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """Losses of the wrapped head on the scores at the HR label size."""
        return self.head.loss_by_feat(
            self._to_label_size(self.forward(inputs), batch_data_samples),
            batch_data_samples)

    def loss_and_fa_features(self, inputs: List[Tensor],
                             batch_data_samples: SampleList,
                             train_cfg: ConfigType) -> Tuple[dict, Tensor]:
        """Losses plus the transformed HR features for the FA loss."""
        if self.fa_transform is None:
            raise ValueError('this SSSRHead was built without the FA '
                             'transform (with_fa_transform=False)')
        scores, feats = self._forward_hr(inputs)
        losses = self.head.loss_by_feat(
            self._to_label_size(scores, batch_data_samples),
            batch_data_samples)
        return losses, self.fa_transform(feats)

    def predict(self, inputs: List[Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Tensor:
        """HR scores resized to the image by the wrapped head."""
        return self.head.predict_by_feat(self.forward(inputs), batch_img_metas)
