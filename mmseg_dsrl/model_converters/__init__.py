"""Checkpoints of other code bases -> this project's modules."""
from .edgenets import (
    CAMVID_FROM_CITYSCAPES,
    EDGENETS_CITYSCAPES_CLASSES,
    EdgeNetsConversionError,
    convert_espnetv2,
    load_edgenets_checkpoint,
    map_classifier_rows,
    register_edgenets_schemes,
)

register_edgenets_schemes()

__all__ = [
    'CAMVID_FROM_CITYSCAPES', 'EDGENETS_CITYSCAPES_CLASSES',
    'EdgeNetsConversionError', 'convert_espnetv2', 'load_edgenets_checkpoint',
    'map_classifier_rows', 'register_edgenets_schemes'
]
