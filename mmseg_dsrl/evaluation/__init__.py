"""Evaluation metrics of the plugin."""
from .metrics import (
    BoundaryIoUMetric,
    PerClassIoUMetric,
    SISRQualityMetric,
    boundary_band,
    psnr,
    ssim,
)

__all__ = [
    'BoundaryIoUMetric', 'PerClassIoUMetric', 'SISRQualityMetric',
    'boundary_band', 'psnr', 'ssim'
]
