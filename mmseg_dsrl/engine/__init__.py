"""Runner hooks of the plugin."""
from .hooks import (ClassCountCheckHook, SISRVisualizationHook,
                    TorchRNGStateHook)

__all__ = ['ClassCountCheckHook', 'SISRVisualizationHook', 'TorchRNGStateHook']
