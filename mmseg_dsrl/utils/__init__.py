from .checkpoint_safety import (
    UnreadableCheckpointError,
    apply_checkpoint_safety,
    runner_checkpoint_globals_allowed,
)
from .compat import allow_cpu_distributed_training, apply_compat_patches

__all__ = [
    'UnreadableCheckpointError', 'allow_cpu_distributed_training',
    'apply_checkpoint_safety', 'apply_compat_patches',
    'runner_checkpoint_globals_allowed'
]
