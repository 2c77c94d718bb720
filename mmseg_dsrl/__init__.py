"""mmseg-dsrl: resolution-efficient semantic segmentation for MMSegmentation.

Importing the package registers its modules in mmseg's registries and applies
the fixes for the pinned upstream stack that match the installed versions
(:mod:`mmseg_dsrl.upstream`; ``python -m mmseg_dsrl.upstream`` lists them).
"""
from .upstream import apply_upstream_fixes

apply_upstream_fixes()

from . import (  # noqa: E402,F401
    compression,  # noqa: E402,F401
    datasets,
    engine,
    evaluation,
    model_converters,
    models,
    upstream,
)

__version__ = '0.1.0'
__all__ = [
    '__version__', 'compression', 'datasets', 'engine', 'evaluation',
    'model_converters', 'models', 'upstream'
]
