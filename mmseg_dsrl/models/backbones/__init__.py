from .icnet_cascade_backbone import (
    CASCADE_EXITS,
    ICNetCascadeBackbone,
    check_exit,
)

__all__ = ['CASCADE_EXITS', 'ICNetCascadeBackbone', 'check_exit']
