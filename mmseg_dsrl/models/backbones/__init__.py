from .espnetv2 import ESPNETV2_CHANNELS, ESPNetV2
from .icnet_cascade_backbone import (
    CASCADE_EXITS,
    ICNetCascadeBackbone,
    check_exit,
)

__all__ = [
    'CASCADE_EXITS', 'ESPNETV2_CHANNELS', 'ESPNetV2', 'ICNetCascadeBackbone',
    'check_exit'
]
