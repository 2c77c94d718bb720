"""mmseg-dsrl: resolution-efficient semantic segmentation for MMSegmentation.

Importing the package registers its modules in mmseg's registries and applies
the compatibility work-arounds of :mod:`mmseg_dsrl.utils.compat`.
"""
from .utils.compat import apply_compat_patches

apply_compat_patches()

from . import (  # noqa: E402,F401
    compression,  # noqa: E402,F401
    datasets,
    engine,
    evaluation,
    models,
)

__version__ = '0.1.0'
__all__ = [
    '__version__', 'compression', 'datasets', 'engine', 'evaluation', 'models'
]
