from .affinity import (
    affinity_distance,
    auto_block_size,
    feature_affinity,
    fused_affinity_available,
    naive_affinity_distance,
    normalize_positions,
)
from .labels import downsample_label
from .pooling import adaptive_avg_pool2d_matmul, adaptive_pool_matrix
from .resize import downsample_image, resize_then_avg_pool, scaled_size

__all__ = [
    'affinity_distance', 'auto_block_size', 'feature_affinity',
    'fused_affinity_available',
    'naive_affinity_distance', 'normalize_positions', 'downsample_label',
    'adaptive_avg_pool2d_matmul', 'adaptive_pool_matrix', 'downsample_image',
    'resize_then_avg_pool', 'scaled_size'
]
