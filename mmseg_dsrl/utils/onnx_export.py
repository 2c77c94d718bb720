"""ONNX export of a segmentor's inference graph and an ONNX Runtime check."""
from typing import Tuple

import numpy as np
import torch
from torch import nn


class TensorModeWrapper(nn.Module):
    """``model(x, mode='tensor')`` as a one-argument module (for tracing)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, mode='tensor')


def export_onnx(model: nn.Module,
                shape: Tuple[int, int],
                path: str,
                opset: int = 17) -> torch.Tensor:
    """Export ``model`` (eval mode) for a fixed (1, 3, H, W) input.

    Uses torch's TorchScript-based exporter (the torch.export-based one
    needs the extra onnxscript package). Returns the random input used, for
    :func:`max_abs_difference`.
    """
    model = model.eval()
    x = torch.randn(1, 3, *shape)
    with torch.no_grad():
        torch.onnx.export(
            TensorModeWrapper(model), (x, ),
            path,
            opset_version=opset,
            input_names=['input'],
            output_names=['logits'],
            dynamo=False)
    return x


def max_abs_difference(model: nn.Module, path: str, x: torch.Tensor) -> float:
    """Max |logits_torch - logits_onnxruntime| on input ``x``."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    (onnx_out, ) = session.run(None, {'input': x.numpy()})
    with torch.no_grad():
        torch_out = model.eval()(x, mode='tensor').numpy()
    if onnx_out.shape != torch_out.shape:
        raise ValueError(f'ONNX output shape {onnx_out.shape} != torch '
                         f'{torch_out.shape}')
    return float(np.abs(onnx_out - torch_out).max())
