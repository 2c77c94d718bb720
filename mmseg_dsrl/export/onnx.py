"""ONNX export of a segmentor's inference graph and an ONNX Runtime check.

The LR-input models (DSRL and its baseline) shrink the image inside the
network with anti-aliased bilinear resizing (``F.interpolate(...,
antialias=True)``), which torch's TorchScript exporter has no symbolic for.
At the traced size :func:`register_onnx_symbolics` writes it as operators
every runtime computes alike: for the integer factors of the configs a
fixed separable filter with a stride (two depth-wise convolutions and a
constant renormalisation at the borders), for other factors two products
with the constant resizing matrices; both equal PyTorch's result to float
precision (tested). With dynamic sizes it is ONNX's ``Resize`` with
``antialias=1`` (opset 18; ``exclude_outside=1`` renormalises at the
borders as PyTorch does), which ONNX Runtime computes as PyTorch does and
OpenVINO does not.

ONNX's pooling ops cover adaptive average pooling only when the output size
divides the input size (PSPNet's 3x3 bin on a 64x128 map does not), so the
general case is written as two products with constant averaging matrices
(:mod:`mmseg_dsrl.models.functional.pooling`, exact), for the size traced.
"""
from typing import Dict

import numpy as np
import torch
from torch import nn

#: Opset of the exported graphs: the first with anti-aliased ``Resize``.
DEFAULT_OPSET = 18


class OnnxExportError(RuntimeError):
    """An inference graph that torch cannot write as ONNX (reason given)."""


class TensorModeWrapper(nn.Module):
    """``model(x, mode='tensor')`` as a one-argument module (for tracing).

    Put it in eval mode (``.eval()``): torch's exporter restores the
    wrapper's mode after tracing, and a new module is in training mode, which
    would switch ``model``'s norms to batch statistics.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, mode='tensor')


def _antialiased_as_filters(g, input, in_hw, out_hw, channels):
    """PyTorch's anti-aliased downsampling of a traced size, in operators
    every runtime computes alike: for integer factors a depth-wise strided
    filter per axis and a constant border renormalisation, otherwise two
    products with the constant resizing matrices."""
    from ..models.functional.resize import (antialiased_as_strided_filter,
                                            antialiased_matrix)
    filters = [antialiased_as_strided_filter(i, o)
               for i, o in zip(in_hw, out_hw)]
    if None in filters:
        rows = antialiased_matrix(in_hw[0], out_hw[0], torch.float32)
        cols = antialiased_matrix(in_hw[1], out_hw[1], torch.float32)
        return g.op('MatMul',
                    g.op('MatMul', g.op('Constant', value_t=rows), input),
                    g.op('Constant', value_t=cols.t().contiguous()))
    (fh, fw) = filters
    k_h = fh.weight.float().reshape(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    k_w = fw.weight.float().reshape(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    out = g.op('Conv', input, g.op('Constant', value_t=k_h),
               group_i=channels, strides_i=[fh.stride, 1],
               pads_i=[fh.padding[0], 0, fh.padding[1], 0],
               kernel_shape_i=[k_h.shape[2], 1])
    out = g.op('Conv', out, g.op('Constant', value_t=k_w),
               group_i=channels, strides_i=[1, fw.stride],
               pads_i=[0, fw.padding[0], 0, fw.padding[1]],
               kernel_shape_i=[1, k_w.shape[3]])
    scale = (fh.scale[:, None] * fw.scale[None, :]).float()[None, None]
    return g.op('Mul', out, g.op('Constant', value_t=scale))


def _antialiased_bilinear(g, input, output_size, align_corners,
                          scale_factors):
    """Symbolic of ``aten::_upsample_bilinear2d_aa`` (opset >= 18): at a
    traced size :func:`_antialiased_as_filters`; with dynamic sizes ONNX's
    anti-aliased ``Resize``."""
    from torch.onnx import symbolic_helper as sh
    sizes = sh._get_tensor_sizes(input)
    out_hw = sh._maybe_get_const(output_size, 'is')
    corners = sh._maybe_get_const(align_corners, 'b')
    if (not corners and sizes is not None and len(sizes) == 4
            and None not in sizes[1:]
            and isinstance(out_hw, (list, tuple)) and len(out_hw) == 2
            and all(o <= i for i, o in zip(sizes[2:], out_hw))):
        return _antialiased_as_filters(g, input, sizes[2:], list(out_hw),
                                       sizes[1])
    empty = g.op('Constant', value_t=torch.tensor([], dtype=torch.float32))
    if not sh._is_none(output_size):
        shape = g.op('Shape', input)
        batch_channels = g.op(
            'Slice', shape, g.op('Constant', value_t=torch.tensor([0])),
            g.op('Constant', value_t=torch.tensor([2])))
        size = g.op('Cast', output_size, to_i=7)  # int64
        sizes = g.op('Concat', batch_channels, size, axis_i=0)
        inputs = (empty, empty, sizes)
    else:
        factors = sh._maybe_get_const(scale_factors, 'fs')
        scales = g.op(
            'Constant',
            value_t=torch.tensor([1.0, 1.0, *factors], dtype=torch.float32))
        inputs = (empty, scales)
    corners = sh._maybe_get_const(align_corners, 'b')
    return g.op(
        'Resize',
        input,
        *inputs,
        antialias_i=1,
        exclude_outside_i=1,
        mode_s='linear',
        coordinate_transformation_mode_s=('align_corners'
                                          if corners else 'half_pixel'))


def _adaptive_avg_pool2d(g, input, output_size):
    """Symbolic of ``aten::adaptive_avg_pool2d`` for any sizes: torch's own
    where they divide, ``P_h @ X @ P_w^T`` (constant matrices) elsewhere."""
    from torch.onnx import symbolic_helper as sh
    from torch.onnx import symbolic_opset9

    from ..models.functional.pooling import adaptive_pool_matrix
    sizes = sh._get_tensor_sizes(input)
    out = sh._maybe_get_const(output_size, 'is')
    if (sizes is None or len(sizes) != 4 or None in sizes[2:]
            or not isinstance(out, (list, tuple))
            or all(i % o == 0 for i, o in zip(sizes[2:], out))):
        return symbolic_opset9.adaptive_avg_pool2d(g, input, output_size)
    (h, w), (oh, ow) = sizes[2:], out
    rows = g.op('Constant', value_t=adaptive_pool_matrix(h, oh))
    cols = g.op('Constant', value_t=adaptive_pool_matrix(w, ow).t())
    return g.op('MatMul', g.op('MatMul', rows, input), cols)


_REGISTERED = False


def register_onnx_symbolics() -> None:
    """Teach torch's TorchScript exporter the ops it lacks for our and
    mmseg's models: anti-aliased bilinear resizing (opset >= 18) and
    adaptive average pooling at sizes that do not divide. Idempotent."""
    global _REGISTERED
    if _REGISTERED:
        return
    from torch.onnx import register_custom_op_symbolic
    for opset in range(DEFAULT_OPSET, 21):
        register_custom_op_symbolic('aten::_upsample_bilinear2d_aa',
                                    _antialiased_bilinear, opset)
        register_custom_op_symbolic('aten::adaptive_avg_pool2d',
                                    _adaptive_avg_pool2d, opset)
    _REGISTERED = True


def export_onnx(model: nn.Module,
                inputs: torch.Tensor,
                path: str,
                opset: int = DEFAULT_OPSET,
                dynamic_hw: bool = False) -> None:
    """Write ``model(inputs, mode='tensor')`` (eval mode) to ``path``.

    The batch axis is always dynamic; ``dynamic_hw`` makes height and width
    dynamic too (check the graph at another size: ops that read a size at
    trace time, e.g. adaptive pooling, freeze it). Uses torch's
    TorchScript-based exporter (the torch.export-based one needs the extra
    onnxscript package).

    Raises:
        OnnxExportError: with torch's reason, e.g. the op without an ONNX
            symbolic at ``opset``.
    """
    register_onnx_symbolics()
    axes = {0: 'batch'}
    if dynamic_hw:
        axes.update({2: 'height', 3: 'width'})
    model = model.eval()
    try:
        with torch.no_grad():
            torch.onnx.export(
                TensorModeWrapper(model).eval(), (inputs, ),
                path,
                opset_version=opset,
                input_names=['input'],
                output_names=['logits'],
                dynamic_axes={
                    'input': axes,
                    'logits': dict(axes)
                },
                dynamo=False)
    except Exception as e:  # torch raises several types; all are reported
        raise OnnxExportError(
            f'{type(model).__name__} cannot be exported to ONNX at opset '
            f'{opset}: {type(e).__name__}: {e}') from e


def compare_with_onnxruntime(model: nn.Module, path: str,
                             inputs: torch.Tensor) -> Dict[str, float]:
    """ONNX Runtime against PyTorch on ``inputs`` (CPU).

    Returns:
        dict: ``max_abs_diff`` (largest |logit difference|) and
        ``label_agreement`` (% of pixels whose argmax labels are equal).
    """
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors are raised, not logged twice
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
    (onnx_logits, ) = session.run(None, {'input': inputs.numpy()})
    with torch.no_grad():
        torch_logits = model.eval()(inputs, mode='tensor').numpy()
    if onnx_logits.shape != torch_logits.shape:
        raise ValueError(f'ONNX Runtime output shape {onnx_logits.shape} != '
                         f'PyTorch {torch_logits.shape} for input '
                         f'{tuple(inputs.shape)}')
    agree = (onnx_logits.argmax(1) == torch_logits.argmax(1)).mean() * 100
    return dict(
        max_abs_diff=float(np.abs(onnx_logits - torch_logits).max()),
        label_agreement=float(agree))


def max_abs_difference(model: nn.Module, path: str, x: torch.Tensor) -> float:
    """Max |logits_torch - logits_onnxruntime| on input ``x``."""
    return compare_with_onnxruntime(model, path, x)['max_abs_diff']
