"""Exporting with mmdeploy 1.3.1 (OpenMMLab's deployment tool) on the
pinned stack.

mmdeploy 1.3.1 exports through PyTorch's TorchScript-based ONNX exporter
(its rewriters patch that exporter's symbolics); torch >= 2.9 made the
dynamo-based exporter the default of ``torch.onnx.export``, which mmdeploy
does not know (it fails on ``import onnxscript``, and its rewriters would
not apply). The plugin's LR input is an anti-aliased resize, which ONNX
has as ``Resize(antialias=1)`` from opset 18, through the symbolic this
package registers. Inside :func:`mmdeploy_export_compatible` both hold:
``torch.onnx.export`` defaults to ``dynamo=False`` and the symbolics are
registered; outside it nothing is changed.
"""
from contextlib import contextmanager
from typing import Iterator

import torch

from .onnx import register_onnx_symbolics


@contextmanager
def mmdeploy_export_compatible() -> Iterator[None]:
    """Within the block, ``mmdeploy.apis.torch2onnx`` exports DSRL, LR
    baseline and ICNet configs (with an opset-18 deploy config, e.g.
    ``tools/deployment/mmdeploy_configs/segmentation_onnxruntime_opset18_static.py``)."""
    register_onnx_symbolics()
    original = torch.onnx.export

    def export(*args, **kwargs):
        kwargs.setdefault('dynamo', False)
        return original(*args, **kwargs)

    torch.onnx.export = export
    try:
        yield
    finally:
        torch.onnx.export = original
