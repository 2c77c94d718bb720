from .feature_affinity_loss import FeatureAffinityLoss, feature_affinity_loss
from .pixel_kd_loss import PixelKDLoss, pixel_kd_loss
from .pixel_mse_loss import PixelMSELoss, pixel_mse_loss

__all__ = [
    'FeatureAffinityLoss', 'feature_affinity_loss', 'PixelKDLoss',
    'pixel_kd_loss', 'PixelMSELoss', 'pixel_mse_loss'
]
