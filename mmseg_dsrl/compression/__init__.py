"""Model compression: L1-norm filter pruning (ICNet) and pruned-model
loading."""
from .l1_filter_pruning import (
    protected_layers,
    prune_filters_l1,
    training_graph_outputs,
)
from .pruned_segmentor import PrunedSegmentor
from .reshape import reshape_to_state_dict

__all__ = [
    'PrunedSegmentor', 'protected_layers', 'prune_filters_l1',
    'reshape_to_state_dict', 'training_graph_outputs'
]
