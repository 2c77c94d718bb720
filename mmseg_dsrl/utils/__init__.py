from .compat import (
    allow_cpu_distributed_training,
    allow_mmengine_checkpoint_globals,
    apply_compat_patches,
)

__all__ = [
    'allow_cpu_distributed_training', 'allow_mmengine_checkpoint_globals',
    'apply_compat_patches'
]
