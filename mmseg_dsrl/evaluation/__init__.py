"""Evaluation metrics of the plugin."""
from .metrics import SISRQualityMetric, psnr, ssim

__all__ = ['SISRQualityMetric', 'psnr', 'ssim']
