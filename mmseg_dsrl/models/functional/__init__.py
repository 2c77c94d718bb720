from .affinity import (affinity_distance, feature_affinity,
                       naive_affinity_distance, normalize_positions)
from .resize import downsample_image, scaled_size

__all__ = [
    'affinity_distance', 'feature_affinity', 'naive_affinity_distance',
    'normalize_positions', 'downsample_image', 'scaled_size'
]
