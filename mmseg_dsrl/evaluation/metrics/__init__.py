from .boundary_iou_metric import BoundaryIoUMetric, boundary_band
from .per_class_iou_metric import PerClassIoUMetric
from .sisr_quality_metric import SISRQualityMetric, psnr, ssim

__all__ = [
    'BoundaryIoUMetric', 'PerClassIoUMetric', 'SISRQualityMetric',
    'boundary_band', 'psnr', 'ssim'
]
