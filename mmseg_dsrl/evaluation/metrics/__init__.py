from .sisr_quality_metric import SISRQualityMetric, psnr, ssim

__all__ = ['SISRQualityMetric', 'psnr', 'ssim']
