"""Classifier of one ICNet cascade output, with cascade label guidance."""
from typing import List

import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ...utils.typing_utils import SampleList
from ..functional import downsample_label


@MODELS.register_module()
class CascadeGuidanceHead(BaseDecodeHead):
    """1x1 classifier on one ICNet cascade output (cascade label guidance).

    The loss is computed at the output's own resolution against the label
    **downsampled** to it (nearest: classes and the ignore index survive
    exactly), as in the ICNet paper; mmseg's ICNet instead upsamples the
    logits to the label. At inference the scores are resized to the image as
    usual.

    Args:
        upsample_factor (int): Bilinear upsampling of the input before the
            classifier: 2 for ICNet's final head (1/8 -> 1/4), 1 for the
            auxiliary heads of the CFFs. Default 1.
        **kwargs: :class:`BaseDecodeHead` arguments; ``channels`` defaults
            to ``in_channels`` (no layers before the classifier).
    """

    def __init__(self, upsample_factor: int = 1, **kwargs) -> None:
        kwargs.setdefault('channels', kwargs.get('in_channels'))
        kwargs.setdefault('dropout_ratio', 0.0)
        if kwargs['channels'] != kwargs.get('in_channels'):
            raise ValueError(
                'CascadeGuidanceHead classifies its input directly, so '
                f"channels ({kwargs['channels']}) must equal in_channels "
                f"({kwargs.get('in_channels')})")
        if not isinstance(upsample_factor, int) or upsample_factor < 1:
            raise ValueError(f'upsample_factor must be an int >= 1, got '
                             f'{upsample_factor!r}')
        super().__init__(**kwargs)
        self.upsample_factor = upsample_factor

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = self._transform_inputs(inputs)
        if self.upsample_factor > 1:
            x = F.interpolate(
                x,
                scale_factor=self.upsample_factor,
                mode='bilinear',
                align_corners=self.align_corners)
        return self.cls_seg(x)

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> dict:
        """Losses against labels downsampled to the logits' size."""
        labels = downsample_label(
            self._stack_batch_gt(batch_data_samples), seg_logits.shape[2:])
        small = [
            SegDataSample(gt_sem_seg=PixelData(data=label)) for label in labels
        ]
        return super().loss_by_feat(seg_logits, small)
