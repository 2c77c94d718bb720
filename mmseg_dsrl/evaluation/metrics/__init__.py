from .boundary_iou_metric import (
    BoundaryIoUMetric,
    PerClassIoUMetric,
    boundary_band,
)
from .sisr_quality_metric import SISRQualityMetric, psnr, ssim

__all__ = [
    'BoundaryIoUMetric', 'PerClassIoUMetric', 'SISRQualityMetric',
    'boundary_band', 'psnr', 'ssim'
]
