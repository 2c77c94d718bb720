from .class_count_hook import ClassCountCheckHook, class_count_mismatches
from .rng_state_hook import TorchRNGStateHook
from .sisr_visualization_hook import SISRVisualizationHook

__all__ = [
    'ClassCountCheckHook', 'SISRVisualizationHook', 'TorchRNGStateHook',
    'class_count_mismatches'
]
