"""PSNR and SSIM of DSRL's SISR reconstruction (opt-in validation metric)."""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS
from torch import Tensor


def psnr(pred: Tensor, target: Tensor, max_value: float = 255.0) -> Tensor:
    """Peak signal-to-noise ratio in dB of (C, H, W) images."""
    mse = F.mse_loss(pred.double(), target.double())
    return 10 * torch.log10(max_value**2 / mse.clamp_min(1e-12))


def _gaussian_window(size: int, sigma: float, dtype) -> Tensor:
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-coords**2 / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(pred: Tensor,
         target: Tensor,
         max_value: float = 255.0,
         window: int = 11,
         sigma: float = 1.5) -> Tensor:
    """Structural similarity (Wang et al. 2004) of (C, H, W) images.

    Gaussian 11x11 window with sigma 1.5, K1 = 0.01, K2 = 0.03, per channel,
    averaged over the valid (unpadded) positions and channels.
    """
    x, y = pred.double()[:, None], target.double()[:, None]
    if min(x.shape[-2:]) < window:
        raise ValueError(f'images must be at least {window}x{window} for '
                         f'SSIM, got {tuple(x.shape[-2:])}')
    w = _gaussian_window(window, sigma, x.dtype)[None, None]
    mu_x, mu_y = F.conv2d(x, w), F.conv2d(y, w)
    sxx = F.conv2d(x * x, w) - mu_x**2
    syy = F.conv2d(y * y, w) - mu_y**2
    sxy = F.conv2d(x * y, w) - mu_x * mu_y
    c1, c2 = (0.01 * max_value)**2, (0.03 * max_value)**2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) *
                                                     (sxx + syy + c2))
    return s.mean()


@METRICS.register_module()
class SISRQualityMetric(BaseMetric):
    """PSNR / SSIM between DSRL's SISR reconstruction and the HR image.

    Needs the model to put ``sr_image`` and ``hr_image`` in its results:
    set ``model.test_cfg.output_sisr=True`` (the SISR branch then runs at
    validation; deployment keeps it off). Use next to ``IoUMetric``::

        val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                         dict(type='SISRQualityMetric')]

    Args:
        prefix (str): Metric name prefix. Default 'sisr'.
    """
    default_prefix = 'sisr'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'sr_image' not in sample:
                raise ValueError(
                    'SISRQualityMetric needs the SISR reconstruction in the '
                    'results: set model.test_cfg.output_sisr=True')
            sr = sample['sr_image']['data'].float().cpu()
            hr = sample['hr_image']['data'].float().cpu()
            self.results.append(
                dict(psnr=float(psnr(sr, hr)), ssim=float(ssim(sr, hr))))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        n = max(len(results), 1)
        return dict(
            PSNR=sum(r['psnr'] for r in results) / n,
            SSIM=sum(r['ssim'] for r in results) / n)
