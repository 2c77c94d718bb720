from .sisr_visualization_hook import SISRVisualizationHook

__all__ = ['SISRVisualizationHook']
