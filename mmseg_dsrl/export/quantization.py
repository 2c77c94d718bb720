"""INT8 post-training quantization of an exported ONNX graph.

ONNX Runtime's static quantization (``onnxruntime.quantization``): the
activation ranges are calibrated (min/max, a percentile or minimal
entropy) on real input images, weights
are quantized per output channel, and the result is a QDQ graph
(QuantizeLinear / DequantizeLinear pairs around each quantized op) that
both ONNX Runtime and OpenVINO run with INT8 kernels. Deterministic: the
same graph and calibration images give the same file.
"""
import os
import os.path as osp
import tempfile
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch import Tensor


class _Batches:
    """ONNX Runtime's CalibrationDataReader over preprocessed images."""

    def __init__(self, images: Sequence[Tensor], input_name: str,
                 rank: int) -> None:
        self.images = list(images)
        self.input_name = input_name
        self.rank = rank
        self._iter: Optional[Iterator] = None

    def get_next(self) -> Optional[dict]:
        if self._iter is None:
            self._iter = iter(self.images)
        image = next(self._iter, None)
        if image is None:
            return None
        array = image.detach().cpu().float().numpy()
        if array.ndim == self.rank - 1:
            array = array[None]  # one image -> a batch of one
        return {self.input_name: np.ascontiguousarray(array)}

    def rewind(self) -> None:
        self._iter = None

    def __iter__(self) -> Iterator[dict]:
        self.rewind()
        while (batch := self.get_next()) is not None:
            yield batch


def quantize_int8(onnx_path: str,
                  calibration: Iterable[Tensor],
                  out_path: str,
                  per_channel: bool = True,
                  method: str = 'minmax',
                  op_types: Optional[Sequence[str]] = None,
                  nodes_to_exclude: Sequence[str] = (),
                  reduce_range: bool = False) -> str:
    """Write the INT8 (QDQ) version of an fp32 ONNX graph.

    Args:
        onnx_path (str): The fp32 graph (from :func:`export_onnx`), with one
            input.
        calibration (Iterable[Tensor]): Preprocessed images, each (3, H, W)
            or (1, 3, H, W), as the graph gets them (normalised), e.g. a
            hundred frames of the training set.
        out_path (str): Where the INT8 graph goes (refused if it exists).
        per_channel (bool): Weight scales per output channel. Default True.
        method (str): Activation range calibration: 'minmax' (default),
            'percentile' (ONNX Runtime's default 99.999th percentile of the
            magnitudes) or 'entropy'.
        op_types (Sequence[str], optional): The operator types to quantize
            (e.g. ``('Conv', 'ConvTranspose')``: the products only, every
            other operator stays fp32). Default None: ONNX Runtime's set.
        nodes_to_exclude (Sequence[str]): Names of nodes of the graph
            that stay fp32 (e.g. the least accurate ones of
            :func:`mmseg_dsrl.analysis.int8_sensitivity.activation_sqnr`).
        reduce_range (bool): Weights in 7 bits ([-64, 63]) instead of 8.
            On x86 CPUs without VNNI, ONNX Runtime multiplies uint8
            activations by int8 weights with an instruction that adds each
            pair of products into 16 bits and saturates there (up to
            2 x 255 x 127 > 32767); 7-bit weights keep every pair in range
            (2 x 255 x 64 < 32767), at the cost of one bit of weight
            precision. CPUs with VNNI (AVX512-VNNI, AVX-VNNI) accumulate in
            32 bits and need no reduced range. Default False.

    Returns:
        str: ``out_path``.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process
    import onnx
    methods = dict(minmax=CalibrationMethod.MinMax,
                   percentile=CalibrationMethod.Percentile,
                   entropy=CalibrationMethod.Entropy)
    if method not in methods:
        raise ValueError(f'method must be one of {tuple(methods)}, got '
                         f'{method!r}')
    images = list(calibration)
    graph_input = onnx.load(onnx_path).graph.input[0]
    rank = len(graph_input.type.tensor_type.shape.dim)
    if not images:
        raise ValueError('INT8 quantization needs at least one calibration '
                         'image')
    if osp.exists(out_path):
        raise FileExistsError(f'{out_path} exists; choose another path')
    with tempfile.TemporaryDirectory(prefix='dsrl_int8_') as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        # Shape inference + graph optimisation first (onnxruntime's
        # recommended pre-processing); symbolic shapes are skipped, the
        # batch axis is dynamic.
        quant_pre_process(onnx_path, prepared, skip_symbolic_shape=True)
        quantize_static(
            prepared,
            out_path,
            _Batches(images, graph_input.name, rank),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            op_types_to_quantize=list(op_types) if op_types else None,
            nodes_to_exclude=list(nodes_to_exclude),
            reduce_range=reduce_range)
    return out_path


def count_quantized_ops(onnx_path: str) -> int:
    """How many QuantizeLinear nodes a graph has (0 for an fp32 graph)."""
    import onnx
    graph = onnx.load(onnx_path).graph
    return sum(node.op_type == 'QuantizeLinear' for node in graph.node)


def read_image(path: str, shape: Sequence[int], preprocess) -> torch.Tensor:
    """One image file resized to ``shape`` (H, W, bilinear) and passed
    through ``preprocess`` (the model's data preprocessor:
    ``dict(inputs=[uint8 CHW], data_samples=[...]) -> dict``, padding as
    its ``test_cfg`` says): the (3, H', W') tensor the model reads."""
    import cv2
    from mmseg.structures import SegDataSample
    bgr = cv2.imread(path)
    if bgr is None:
        raise ValueError(f'{path}: not a readable image')
    bgr = cv2.resize(bgr, (shape[1], shape[0]),
                     interpolation=cv2.INTER_LINEAR)
    pixels = torch.from_numpy(bgr).permute(2, 0, 1).contiguous()
    return preprocess(dict(inputs=[pixels], data_samples=[SegDataSample()]),
                      False)['inputs'][0]


def read_calibration_images(folder: str, count: int, shape: Sequence[int],
                            preprocess) -> list:
    """The first ``count`` images of ``folder`` (sorted names), each read
    by :func:`read_image`."""
    names = sorted(
        n for n in os.listdir(folder)
        if n.lower().endswith(('.png', '.jpg', '.jpeg', '.bmp')))
    if len(names) < count:
        raise ValueError(f'{folder} holds {len(names)} images, '
                         f'{count} asked for calibration')
    return [
        read_image(osp.join(folder, name), shape, preprocess)
        for name in names[:count]
    ]
