from .rng_state_hook import TorchRNGStateHook
from .sisr_visualization_hook import SISRVisualizationHook

__all__ = ['SISRVisualizationHook', 'TorchRNGStateHook']
