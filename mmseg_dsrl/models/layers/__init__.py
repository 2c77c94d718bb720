from .cascade_feature_fusion import CascadeFeatureFusion
from .pyramid_pooling import PyramidPoolingSum
from .sssr_upsample import SSSRUpsample

__all__ = ['CascadeFeatureFusion', 'PyramidPoolingSum', 'SSSRUpsample']
