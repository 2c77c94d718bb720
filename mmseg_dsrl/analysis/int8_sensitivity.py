"""Where an INT8 graph loses accuracy: per-tensor SQNR against fp32.

ONNX Runtime's QDQ debugging (``onnxruntime.quantization.qdq_loss_debug``)
runs the fp32 graph and its INT8 (QDQ) version on the same images with
every intermediate tensor as an output and compares them: for each
quantized activation the signal-to-quantization-noise ratio (dB) of the
INT8 graph's tensor against the fp32 graph's (``xmodel``: the error
accumulated up to that tensor) and of its own quantize / dequantize step
(``qdq``: the error that tensor's quantization adds). The lowest ``qdq``
values name the operators to keep in fp32
(``quantize_int8(..., nodes_to_exclude=...)``): :func:`fp32_nodes_for`
names the nodes that keep a tensor unquantized, and
:func:`fewest_fp32_tensors` finds how many of the worst tensors must stay
fp32 for an accuracy budget.
"""
import os.path as osp
import tempfile
from typing import Callable, Dict, List, Sequence, Tuple

from torch import Tensor

__all__ = ['activation_sqnr', 'producers', 'fp32_nodes_for',
           'fewest_fp32_tensors']


def producers(onnx_path: str) -> Dict[str, tuple]:
    """Output tensor name -> (node name, op type) of a graph's nodes."""
    import onnx
    out = {}
    for node in onnx.load(onnx_path).graph.node:
        for name in node.output:
            out[name] = (node.name, node.op_type)
    return out


def activation_sqnr(fp32_path: str, int8_path: str,
                    images: Sequence[Tensor]) -> List[dict]:
    """Per quantized activation of ``int8_path``: ``tensor``, the fp32
    graph's ``node`` and ``op`` producing it, ``qdq_db`` and ``xmodel_db``
    (SQNR in dB on ``images``, higher is better), lowest ``qdq_db`` first.

    Args:
        fp32_path (str): The fp32 graph (one input).
        int8_path (str): Its QDQ version (:func:`quantize_int8`).
        images (Sequence[Tensor]): Preprocessed inputs, (3, H, W) or
            (1, 3, H, W), as the graph reads them.

    Returns:
        list[dict]: One entry per quantized activation.
    """
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    from mmseg_dsrl.export.quantization import _Batches
    graph_input = onnx.load(fp32_path).graph.input[0]
    rank = len(graph_input.type.tensor_type.shape.dim)
    with tempfile.TemporaryDirectory(prefix='dsrl_sqnr_') as tmp:
        acts = {}
        for key, path in (('float', fp32_path), ('qdq', int8_path)):
            augmented = osp.join(tmp, f'{key}.onnx')
            modify_model_output_intermediate_tensors(path, augmented)
            acts[key] = collect_activations(
                augmented, _Batches(images, graph_input.name, rank),
                execution_providers=['CPUExecutionProvider'])
    errors = compute_activation_error(
        create_activation_matching(acts['qdq'], acts['float']))
    made_by = producers(fp32_path)
    rows = []
    for tensor, err in errors.items():
        node, op = made_by.get(tensor, ('', ''))
        rows.append(dict(tensor=tensor, node=node, op=op,
                         qdq_db=float(err['qdq_err']),
                         xmodel_db=float(err.get('xmodel_err', float('nan')))))
    return sorted(rows, key=lambda r: r['qdq_db'])


def fp32_nodes_for(onnx_path: str, tensors: Sequence[str]) -> Tuple[str, ...]:
    """The nodes of a graph to keep in fp32 so that none of ``tensors`` is
    quantized: ONNX Runtime puts a quantize / dequantize pair on a tensor
    when its producer or any consumer is quantized, so both are excluded.

    Args:
        onnx_path (str): The fp32 graph.
        tensors (Sequence[str]): Tensor names (e.g. the lowest ``qdq_db``
            of :func:`activation_sqnr`).

    Returns:
        tuple[str]: Node names, in the graph's order.
    """
    import onnx
    wanted = set(tensors)
    nodes = []
    for node in onnx.load(onnx_path).graph.node:
        if wanted & (set(node.input) | set(node.output)):
            nodes.append(node.name)
    return tuple(nodes)


def fewest_fp32_tensors(evaluate: Callable[[Sequence[str]], float],
                        ranked: Sequence[str], counts: Sequence[int],
                        reference: float, budget: float) -> List[dict]:
    """Keep the first k tensors of ``ranked`` in fp32 for each k of
    ``counts`` in increasing order, and stop at the first whose score is
    within ``budget`` of ``reference``.

    Args:
        evaluate (callable): Tensors kept fp32 -> score (e.g. mIoU of the
            INT8 graph without them on a selection set).
        ranked (Sequence[str]): Tensors, least accurate first.
        counts (Sequence[int]): The k to try (each at most ``len(ranked)``).
        reference (float): The fp32 score on the same set.
        budget (float): The largest loss accepted.

    Returns:
        list[dict]: Per k tried: ``k``, ``tensors``, ``score``, ``loss``
        (``reference - score``) and ``within_budget``; the last is the
        first within budget, if any.
    """
    steps = []
    for k in sorted(set(counts)):
        if k > len(ranked):
            raise ValueError(f'counts asks for {k} tensors in fp32; the '
                             f'graph has {len(ranked)} quantized tensors')
        score = float(evaluate(list(ranked[:k])))
        steps.append(dict(k=k, tensors=list(ranked[:k]), score=score,
                          loss=reference - score,
                          within_budget=reference - score <= budget))
        if steps[-1]['within_budget']:
            break
    return steps
