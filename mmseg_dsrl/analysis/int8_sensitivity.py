"""Where an INT8 graph loses accuracy: per-tensor SQNR against fp32.

ONNX Runtime's QDQ debugging (``onnxruntime.quantization.qdq_loss_debug``)
runs the fp32 graph and its INT8 (QDQ) version on the same images with
every intermediate tensor as an output and compares them: for each
quantized activation the signal-to-quantization-noise ratio (dB) of the
INT8 graph's tensor against the fp32 graph's (``xmodel``: the error
accumulated up to that tensor) and of its own quantize / dequantize step
(``qdq``: the error that tensor's quantization adds). The lowest ``qdq``
values name the operators to keep in fp32
(``quantize_int8(..., nodes_to_exclude=...)``).
"""
import os.path as osp
import tempfile
from typing import Dict, List, Sequence

from torch import Tensor

__all__ = ['activation_sqnr', 'producers']


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
