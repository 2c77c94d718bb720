"""Runner hooks of the plugin."""
from .hooks import SISRVisualizationHook, TorchRNGStateHook

__all__ = ['SISRVisualizationHook', 'TorchRNGStateHook']
