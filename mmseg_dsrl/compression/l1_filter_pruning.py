"""L1-norm filter pruning of segmentors (ICNet's compression step).

`Pruning Filters for Efficient ConvNets <https://arxiv.org/abs/1608.08710>`_
as used by ICNet: the filters with the smallest L1 norm of their kernel are
removed. Dependency tracking (residual additions, BN, concatenations, CFF
sums, consumers' input channels) is done by torch-pruning's dependency
graph (https://github.com/VainF/Torch-Pruning), not by hand.
"""
from typing import List, Sequence

import torch
from torch import Tensor, nn


def training_graph_outputs(model: nn.Module, x: Tensor) -> List[Tensor]:
    """Every head's output, so that pruning also resizes the inputs of
    training-only heads (auxiliary heads, DSRL's SISR head and FA
    transform), which fine-tuning still runs. A head that computes more in
    training than its ``forward`` returns declares it with
    ``training_graph_outputs(feats)`` (DSRL's SSSR head)."""
    feats = model.extract_feat(x)
    outs: List[Tensor] = []
    head = model.decode_head
    declared = getattr(head, 'training_graph_outputs', None)
    outs += declared(feats) if declared is not None else [head(feats)]
    aux = getattr(model, 'auxiliary_head', None)
    if aux is not None:
        heads = aux if isinstance(aux, nn.ModuleList) else [aux]
        outs += [h(feats) for h in heads]
    if getattr(model, 'sisr_head', None) is not None:
        outs.append(model.sisr_head(feats))
    return outs


def protected_layers(model: nn.Module) -> List[nn.Module]:
    """Layers whose output channels are fixed by the task: every classifier
    (``conv_seg``), and what modules declare through
    ``pruning_protected_layers()`` (DSRL's SSSR deconvolutions on class
    scores and FA transform, the SISR head's sub-pixel convolution)."""
    keep: List[nn.Module] = []
    for name, module in model.named_modules():
        if name.endswith('conv_seg'):
            keep.append(module)
        declared = getattr(module, 'pruning_protected_layers', None)
        if callable(declared):
            keep += declared()
    return keep


def prune_filters_l1(
    model: nn.Module,
    ratio: float,
    input_shape: Sequence[int] = (1, 3, 256, 256)) -> None:
    """Remove ``ratio`` of the filters of every prunable conv, in place.

    Within each group of coupled channels (a conv and everything sharing its
    output channels), the channels are ranked by the L1 norm of the group's
    first (root) convolution's filters, ICNet's criterion, and the lowest are
    removed from every member of the group.

    Args:
        model (nn.Module): An mmseg segmentor (eval mode is used).
        ratio (float): Fraction of filters to remove, in [0, 1).
        input_shape (Sequence[int]): Shape of the tracing input.
    """
    if not 0 <= ratio < 1:
        raise ValueError(f'ratio must be in [0, 1), got {ratio}')
    if ratio == 0:
        return
    import torch_pruning as tp
    was_training = model.training
    model.eval()
    example = torch.randn(*input_shape)
    importance = tp.importance.MagnitudeImportance(
        p=1, group_reduction='first', normalizer=None)
    pruner = tp.pruner.MagnitudePruner(
        model,
        example,
        importance=importance,
        pruning_ratio=ratio,
        ignored_layers=protected_layers(model),
        forward_fn=training_graph_outputs)
    pruner.step()
    model.train(was_training)
