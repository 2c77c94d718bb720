"""Runner hooks of the plugin."""
from .hooks import SISRVisualizationHook

__all__ = ['SISRVisualizationHook']
