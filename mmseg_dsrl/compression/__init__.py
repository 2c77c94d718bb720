"""Model compression: L1-norm filter pruning (ICNet), pruning with
fine-tuning as one call, and loading pruned models."""
from .l1_filter_pruning import (
    protected_layers,
    prune_filters_l1,
    training_graph_outputs,
)
from .pruned_segmentor import PrunedSegmentor
from .pruning_schedule import (
    default_finetune_iters,
    load_exact_checkpoint,
    prune_and_finetune,
)
from .reshape import reshape_to_state_dict

__all__ = [
    'PrunedSegmentor', 'default_finetune_iters', 'load_exact_checkpoint',
    'protected_layers', 'prune_and_finetune', 'prune_filters_l1',
    'reshape_to_state_dict', 'training_graph_outputs'
]
