"""INT8 on a CPU without VNNI: 7-bit weights, and ONNX Runtime run as such a
CPU under QEMU, checked against a naive model of the saturating product."""
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from mmseg_dsrl.analysis.inference_backends import (NAMED_PATHS,
                                                    InferencePath,
                                                    build_runner)

needs_qemu = pytest.mark.skipif(
    shutil.which('qemu-x86_64') is None,
    reason='needs qemu-x86_64 (apt-get install qemu-user)')


class Conv1x1(nn.Module):
    """One 1x1 convolution, called like a segmentor."""

    def __init__(self, channels: int, weight: float):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 1, bias=False)
        nn.init.constant_(self.conv.weight, weight)

    def forward(self, x, mode='tensor'):
        return self.conv(x)


def int8_weights(path: str) -> np.ndarray:
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    return np.concatenate([
        numpy_helper.to_array(i).ravel() for i in graph.initializer
        if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4
    ])


def test_reduce_range_quantizes_weights_to_7_bits(tmp_path):
    pytest.importorskip('onnxruntime')
    torch.manual_seed(0)
    model = Conv1x1(8, 1.0)
    nn.init.normal_(model.conv.weight)
    x = torch.randn(1, 8, 16, 24)
    calibration = [torch.randn(8, 16, 24) for _ in range(4)]
    for path in (InferencePath('onnxruntime', 'int8'),
                 NAMED_PATHS['onnxruntime-int8-reduce-range']):
        build_runner(model, path, x, str(tmp_path), calibration)
    full = int8_weights(str(tmp_path / 'model_int8.onnx'))
    reduced = int8_weights(str(tmp_path / 'model_int8_reduce-range.onnx'))
    assert np.abs(full).max() == 127
    assert 32 < np.abs(reduced).max() <= 64


@pytest.mark.parametrize('path, match', [
    (InferencePath('onnxruntime', reduce_range=True),
     "7 bits; precision is 'fp32'"),
    (InferencePath('openvino', 'int8', emulate_cpu='Haswell'),
     "under QEMU; backend is 'openvino'"),
])
def test_impossible_emulation_options_are_refused(path, match):
    with pytest.raises(ValueError, match=match):
        path.check('cpu')


def test_timing_tools_do_not_offer_emulated_paths():
    from tools.deployment.deployment_benchmark import parse_args
    with pytest.raises(SystemExit):
        parse_args(['--model', 'a', 'configs/x.py', '--paths',
                    'onnxruntime-int8-emulated-avx2'])


def saturating_conv1x1(xq: np.ndarray, wq: np.ndarray) -> np.ndarray:
    """A naive model of the AVX2 product: uint8 x int8 in pairs of input
    channels, each pair's sum saturated to int16, the pairs added in int32.
    xq: (C,) uint8 (one pixel), wq: (K, C) int8 -> (K,) int32."""
    products = wq.astype(np.int32) * xq.astype(np.int32)[None]
    pairs = products[:, 0::2] + products[:, 1::2]
    return np.clip(pairs, -32768, 32767).sum(axis=1)


@needs_qemu
@pytest.mark.parametrize('name, graph, saturates', [
    ('onnxruntime-int8-emulated-avx2', 'model_int8.onnx', True),
    ('onnxruntime-int8-reduce-range-emulated-avx2',
     'model_int8_reduce-range.onnx', False),
])
def test_int8_on_an_emulated_avx2_cpu_saturates_as_modelled(
        tmp_path, name, graph, saturates):
    """A 1x1 convolution whose quantized input is 255 everywhere and whose
    weights are one value: ONNX Runtime under ``qemu -cpu Haswell`` gives
    the naive model's saturated sum, half the exact one, with 8-bit weights
    (127: 2 x 255 x 127 > 32767) and the exact sum with 7-bit ones (64:
    2 x 255 x 64 < 32767)."""
    pytest.importorskip('onnxruntime')
    import onnx
    from onnx import numpy_helper
    channels = 64
    model = Conv1x1(channels, 1.0).eval()
    x = torch.ones(1, channels, 4, 4)  # the calibration range: [0, 1]
    run = build_runner(model, NAMED_PATHS[name], x, str(tmp_path), [x[0]])
    got = run(x)[0, :, 0, 0].numpy()
    run.stop()
    inits = {
        i.name: numpy_helper.to_array(i)
        for i in onnx.load(str(tmp_path / graph)).graph.initializer
    }
    wq = next(v for v in inits.values() if v.dtype == np.int8 and v.ndim == 4)
    wq = wq.reshape(wq.shape[0], -1)
    w_scale = 1.0 / np.abs(wq).max()  # symmetric: 1.0 maps to max |q|
    xq = np.full(channels, 255, np.uint8)  # 1.0 at the input scale 1 / 255
    expected = saturating_conv1x1(xq, wq) * w_scale / 255
    exact = float(channels)
    # One step of the output's own quantization apart at most.
    assert np.allclose(got, expected, atol=exact / 100), (got, expected)
    if saturates:
        assert np.abs(wq).max() == 127
        assert np.all(got < 0.6 * exact), got
    else:
        assert np.abs(wq).max() == 64
        assert np.allclose(got, exact, atol=exact / 100), got
