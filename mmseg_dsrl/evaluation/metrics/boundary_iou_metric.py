"""IoU near label boundaries (trimap IoU).

DSRL's claim is about fine structure (poles, signs, object outlines), which
the image-wide mIoU dilutes. :class:`BoundaryIoUMetric` (with the per-class
IoU of :class:`.PerClassIoUMetric`) evaluates only the pixels within
``width`` pixels of a ground-truth label boundary -- the "trimap" evaluation
of Kohli et al. (2009) used by DeepLab (Chen et al., 2017) for the same
question. No maintained PyPI package implements it for label maps (the
Boundary IoU API of Cheng et al. 2021 is for instance masks and is not on
PyPI), so :func:`boundary_band` is a small function tested against a
brute-force reference.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import METRICS
from torch import Tensor

from .per_class_iou_metric import PerClassIoUMetric


def boundary_band(label: Tensor, width: int, ignore_index: int = 255) -> Tensor:
    """Pixels within ``width`` (Chebyshev distance) of a label change.

    A pixel is in the band when a pixel at most ``width`` rows and columns
    away has another label; ignored pixels neither belong to the band nor
    make a boundary.

    Args:
        label (Tensor): Label map, shape (H, W), integer.
        width (int): Band half-width in pixels, >= 1.
        ignore_index (int): Label of unlabelled pixels.

    Returns:
        Tensor: Boolean mask, shape (H, W).
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f'width must be an int >= 1, got {width!r}')
    if label.dim() != 2:
        raise ValueError(f'label must be (H, W), got shape '
                         f'{tuple(label.shape)}')
    valid = label != ignore_index
    values = label.float()[None, None]
    k = 2 * width + 1
    # Largest and smallest valid label in each window (ignored pixels are
    # pushed out of the comparison).
    low = torch.where(valid, values, torch.full_like(values, -1.0))
    high = torch.where(valid, values, torch.full_like(values, 1e9))
    window_max = F.max_pool2d(low, k, 1, width)
    window_min = -F.max_pool2d(-high, k, 1, width)
    return (valid & (window_max != window_min)[0, 0])


@METRICS.register_module()
class BoundaryIoUMetric(PerClassIoUMetric):
    """IoU on the pixels within ``width`` pixels of a ground-truth label
    boundary (trimap IoU), per class and averaged.

    Returns ``<prefix>/mIoU``, ``<prefix>/aAcc``, ``<prefix>/mAcc`` and
    ``<prefix>/IoU.<class>`` with prefix ``boundary{width}`` by default.

    Args:
        width (int): Band half-width in pixels. Default 3.
        ignore_index (int): Label of unlabelled pixels. Default 255.
        prefix (str, optional): Key prefix. Default ``f'boundary{width}'``.
        **kwargs: Other ``IoUMetric`` arguments.
    """

    def __init__(self,
                 width: int = 3,
                 ignore_index: int = 255,
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        if not isinstance(width, int) or width < 1:
            raise ValueError(f'width must be an int >= 1, got {width!r}')
        super().__init__(
            ignore_index=ignore_index,
            prefix=prefix or f'boundary{width}',
            **kwargs)
        self.width = width

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze()
            label = sample['gt_sem_seg']['data'].squeeze().to(pred)
            band = boundary_band(label, self.width, self.ignore_index)
            outside = torch.full_like(label, self.ignore_index)
            self.results.append(
                self.intersect_and_union(pred, torch.where(band, label,
                                                           outside),
                                         num_classes, self.ignore_index))
