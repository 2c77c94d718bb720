"""Inference paths: each runner gives eager fp32's logits (within its
precision), and impossible combinations fail with the option named."""
import shutil

import pytest
import torch
from torch import nn

from mmseg_dsrl.analysis.inference_backends import (
    InferencePath,
    agreement,
    build_runner,
)


class TinySegmentor(nn.Module):
    """Called like a segmentor: ``model(x, mode='tensor')`` -> logits."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 5, 1))

    def forward(self, x, mode='tensor'):
        assert mode == 'tensor'
        return self.net(x)


@pytest.fixture
def model_and_input():
    torch.manual_seed(0)
    model = TinySegmentor().eval()
    with torch.no_grad():  # non-trivial BN statistics
        model.net[1].running_mean.uniform_(-0.5, 0.5)
        model.net[1].running_var.uniform_(0.5, 2.0)
    return model, torch.randn(2, 3, 16, 24)


def eager(model, x):
    with torch.no_grad():
        return model(x, mode='tensor')


@pytest.mark.parametrize('path, atol', [
    (InferencePath(), 0.0),
    (InferencePath(channels_last=True), 1e-5),
    (InferencePath(precision='bf16'), 0.1),
    (InferencePath(precision='bf16', channels_last=True), 0.1),
])
def test_pytorch_runners_match_eager(model_and_input, path, atol):
    model, x = model_and_input
    out = build_runner(model, path, x)(x)
    assert out.dtype == torch.float32 and out.shape == (2, 5, 16, 24)
    torch.testing.assert_close(out, eager(model, x), atol=atol, rtol=0)
    if path.precision == 'bf16':  # autocast really ran in bf16
        assert not torch.equal(out, eager(model, x))


def test_channels_last_runner_leaves_the_model_alone(model_and_input):
    model, x = model_and_input
    build_runner(model, InferencePath(channels_last=True), x)(x)
    assert model.net[0].weight.is_contiguous()


def test_onnxruntime_runner_matches_eager(model_and_input, tmp_path):
    pytest.importorskip('onnxruntime')
    model, x = model_and_input
    run = build_runner(model, InferencePath('onnxruntime'), x[:1],
                       str(tmp_path))
    # dynamic batch: exported at batch 1, run at batch 2
    torch.testing.assert_close(run(x), eager(model, x), atol=1e-5, rtol=0)
    assert not model.training


@pytest.mark.skipif(shutil.which('g++') is None, reason='inductor needs g++')
def test_compiled_runner_matches_eager(model_and_input):
    model, x = model_and_input
    run = build_runner(model, InferencePath(compile=True), x)
    torch.testing.assert_close(run(x), eager(model, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize('path, device, match', [
    (InferencePath(precision='fp16'), 'cpu', 'fp16 needs a CUDA device'),
    (InferencePath('onnxruntime', precision='bf16'), 'cpu',
     "precision='bf16'"),
    (InferencePath('onnxruntime', compile=True), 'cpu', 'compile=True'),
    (InferencePath('tensorrt'), 'cpu', "got 'tensorrt'"),
    (InferencePath(precision='int8'), 'cpu', 'use backend onnxruntime or '
     'openvino'),
    (InferencePath('openvino', precision='fp16'), 'cpu', "precision='fp16'"),
    (InferencePath('openvino', channels_last=True), 'cpu',
     'channels_last=True'),
    (InferencePath('openvino'), 'cuda', 'runs on the CPU'),
    (InferencePath('onnxruntime', calibration='percentile'), 'cpu',
     "sets INT8 ranges; precision is 'fp32'"),
    (InferencePath('onnxruntime', 'int8', calibration='kl'), 'cpu',
     "calibration must be one of .*got 'kl'"),
    (InferencePath('onnxruntime', int8_scope='conv'), 'cpu',
     "chooses what INT8 quantizes; precision is 'fp32'"),
    (InferencePath(dynamic_hw=True), 'cpu',
     "how the ONNX graph is exported; backend is 'pytorch'"),
])
def test_impossible_paths_are_refused(path, device, match):
    with pytest.raises(ValueError, match=match):
        path.check(device)


def test_openvino_runner_matches_eager(model_and_input, tmp_path):
    pytest.importorskip('openvino')
    model, x = model_and_input
    run = build_runner(model, InferencePath('openvino'), x[:1],
                       str(tmp_path))
    torch.testing.assert_close(run(x), eager(model, x), atol=1e-4, rtol=0)


@pytest.mark.parametrize('scale', [0.5, 0.25])
def test_openvino_runs_the_lr_input_downsampling_as_pytorch(tmp_path, scale):
    """The LR input of DSRL / LR baselines: exported as operators OpenVINO
    computes as PyTorch does (no anti-aliased Resize)."""
    pytest.importorskip('openvino')
    from mmseg_dsrl.models.functional import downsample_image

    class LRInput(nn.Module):

        def forward(self, x, mode='tensor'):
            return downsample_image(x, scale)

    x = torch.randn(1, 3, 48, 64)
    for backend in ('openvino', 'onnxruntime'):
        (tmp_path / backend).mkdir()
        out = build_runner(LRInput(), InferencePath(backend), x,
                           str(tmp_path / backend))(x)
        torch.testing.assert_close(out, LRInput()(x), atol=1e-5, rtol=0)


def test_dynamic_hw_path_runs_the_antialiased_resize_form(tmp_path):
    """``dynamic_hw`` runs the graph exported with dynamic sizes: the LR
    input's downsampling as ONNX's Resize(antialias=1), which ONNX Runtime
    computes as PyTorch does."""
    onnx = pytest.importorskip('onnx')
    from mmseg_dsrl.models.functional import downsample_image

    class LRInput(nn.Module):

        def forward(self, x, mode='tensor'):
            return downsample_image(x, 0.5)

    x = torch.randn(1, 3, 48, 64)
    out = build_runner(LRInput(), InferencePath('onnxruntime',
                                                dynamic_hw=True), x,
                       str(tmp_path))(x)
    torch.testing.assert_close(out, LRInput()(x), atol=1e-5, rtol=0)
    nodes = onnx.load(str(tmp_path / 'model_dynamic-hw.onnx')).graph.node
    resize = [n for n in nodes if n.op_type == 'Resize']
    assert resize and any(a.name == 'antialias' and a.i == 1
                          for a in resize[0].attribute)


def test_openvino_refuses_a_graph_with_an_antialiased_resize(tmp_path):
    """A graph that still has ONNX's Resize(antialias=1) (exported with
    dynamic sizes, or by another tool) is refused with the reason: OpenVINO
    computes it unlike PyTorch."""
    onnx = pytest.importorskip('onnx')
    from onnx import TensorProto, helper
    from mmseg_dsrl.analysis.inference_backends import check_openvino_graph
    node = helper.make_node('Resize', ['x', '', 's'], ['y'], antialias=1,
                            mode='linear')
    graph = helper.make_graph(
        [node], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT,
                                                    [1, 3, 8, 8])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)],
        [helper.make_tensor('s', TensorProto.FLOAT, [4], [1, 1, .5, .5])])
    path = str(tmp_path / 'aa.onnx')
    onnx.save(helper.make_model(graph), path)
    with pytest.raises(ValueError, match='anti-aliased Resize'):
        check_openvino_graph(path)


def test_openvino_bf16_needs_the_instructions(model_and_input, tmp_path):
    ov = pytest.importorskip('openvino')
    model, x = model_and_input
    caps = ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
    path = InferencePath('openvino', precision='bf16')
    if 'BF16' in caps:
        out = build_runner(model, path, x, str(tmp_path))(x)
        torch.testing.assert_close(out, eager(model, x), atol=0.1, rtol=0)
    else:
        with pytest.raises(ValueError, match='no bf16 instructions'):
            build_runner(model, path, x, str(tmp_path))


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_int8_runners_run_a_quantized_graph_close_to_eager(
        model_and_input, tmp_path, backend):
    """The INT8 graph really is quantized (QuantizeLinear nodes, logits not
    fp32's) and stays close to eager fp32 on inputs like its calibration
    images."""
    pytest.importorskip(backend)
    from mmseg_dsrl.export.quantization import count_quantized_ops
    model, x = model_and_input
    g = torch.Generator().manual_seed(1)
    calibration = [torch.randn(3, 16, 24, generator=g) for _ in range(8)]
    with pytest.raises(ValueError, match='needs calibration images'):
        build_runner(model, InferencePath(backend, 'int8'), x, str(tmp_path))
    run = build_runner(model, InferencePath(backend, 'int8'), x,
                       str(tmp_path), calibration)
    assert count_quantized_ops(str(tmp_path / 'model_int8.onnx')) > 0
    out, ref = run(x), eager(model, x)
    result = agreement(ref, out)
    # 8-bit activations of a 2-layer net: logits within a quarter of their
    # range, labels mostly kept.
    assert 0 < result['max_abs_diff'] < 0.25 * float(ref.abs().max())
    assert result['label_agreement'] >= 90.0


def test_quantization_is_deterministic_and_never_overwrites(
        model_and_input, tmp_path):
    pytest.importorskip('onnxruntime')
    import hashlib

    from mmseg_dsrl.export.onnx import export_onnx
    from mmseg_dsrl.export.quantization import quantize_int8
    model, x = model_and_input
    fp32 = str(tmp_path / 'model.onnx')
    export_onnx(model, x[:1], fp32)
    calibration = [x[0], x[1]]
    digests = []
    for name in ('a.onnx', 'b.onnx'):
        quantize_int8(fp32, calibration, str(tmp_path / name))
        digests.append(
            hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    with pytest.raises(FileExistsError, match='a.onnx exists'):
        quantize_int8(fp32, calibration, str(tmp_path / 'a.onnx'))
    with pytest.raises(ValueError, match='at least one calibration image'):
        quantize_int8(fp32, [], str(tmp_path / 'c.onnx'))
    with pytest.raises(ValueError, match="one of .*got 'mse'"):
        quantize_int8(fp32, calibration, str(tmp_path / 'd.onnx'),
                      method='mse')


@pytest.mark.parametrize('method', ['percentile', 'entropy'])
def test_calibration_methods_set_other_ranges(model_and_input, tmp_path,
                                              method):
    """Percentile calibration gives other activation scales than min/max
    on the same images (one outlier pixel widens min/max only); entropy
    calibration may keep min/max's range on so small a net (it does here).
    Either runner stays close to eager fp32."""
    pytest.importorskip('onnxruntime')
    import onnx
    from onnx import numpy_helper
    model, x = model_and_input
    g = torch.Generator().manual_seed(1)
    calibration = [torch.randn(3, 16, 24, generator=g) for _ in range(8)]
    calibration[0][:, 0, 0] = 40.0  # an outlier

    def scales(name):
        graph = onnx.load(str(tmp_path / name)).graph
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        return [
            float(inits[n.input[1]]) for n in graph.node
            if n.op_type == 'QuantizeLinear' and inits[n.input[1]].size == 1
        ]

    path = InferencePath('onnxruntime', 'int8', calibration=method)
    run = build_runner(model, path, x, str(tmp_path), calibration)
    build_runner(model, InferencePath('onnxruntime', 'int8'), x,
                 str(tmp_path), calibration)
    minmax, other = scales('model_int8.onnx'), scales(
        f'model_int8_{method}.onnx')
    assert len(minmax) == len(other) > 0
    if method == 'percentile':
        # The input's range: min/max keeps the outlier, percentile clips it.
        assert other[0] < minmax[0]
    result = agreement(eager(model, x), run(x))
    assert result['label_agreement'] >= 90.0


class GatedSegmentor(TinySegmentor):
    """A conv net with an attention-style gate (global pool, sigmoid,
    multiply) and a residual add, as BiSeNet's attention refinement has."""

    def forward(self, x, mode='tensor'):
        y = self.net[2](self.net[1](self.net[0](x)))
        gate = torch.sigmoid(y.mean(dim=(2, 3), keepdim=True))
        return self.net[3](y * gate + y)


def test_conv_scope_quantizes_the_products_only(tmp_path):
    """int8_scope='conv': the gate's pooling, sigmoid, multiply and add read
    fp32 tensors (quantized ones feed the convolutions, and the ReLU that
    ONNX Runtime folds into its input's range); with ONNX Runtime's default
    scope they are quantized too. Both stay close to eager fp32."""
    pytest.importorskip('onnxruntime')
    import onnx
    torch.manual_seed(0)
    model = GatedSegmentor().eval()
    x = torch.randn(2, 3, 16, 24)
    g = torch.Generator().manual_seed(1)
    calibration = [torch.randn(3, 16, 24, generator=g) for _ in range(8)]

    def dequantized_consumers(name):
        graph = onnx.load(str(tmp_path / name)).graph
        dq = {n.output[0] for n in graph.node
              if n.op_type == 'DequantizeLinear'}
        return {n.op_type for n in graph.node if set(n.input) & dq}

    for scope in ('all', 'conv'):
        path = InferencePath('onnxruntime', 'int8', int8_scope=scope)
        run = build_runner(model, path, x, str(tmp_path), calibration)
        assert agreement(eager(model, x), run(x))['label_agreement'] >= 90
    conv_only = dequantized_consumers('model_int8_conv.onnx')
    everything = dequantized_consumers('model_int8.onnx')
    gate_ops = {'Mul', 'Add', 'Sigmoid', 'ReduceMean', 'GlobalAveragePool'}
    assert 'Conv' in conv_only and not conv_only & gate_ops, conv_only
    assert everything & gate_ops, everything


def test_int8_matmul_rate_is_a_rate(tmp_path):
    pytest.importorskip('onnxruntime')
    from mmseg_dsrl.analysis.inference_backends import int8_matmul_rate
    rate = int8_matmul_rate('onnxruntime', size=128, repeats=2,
                            work_dir=str(tmp_path))
    assert rate > 1e6  # at least a MFLOP/s: a time was measured
    with pytest.raises(ValueError, match='onnxruntime or openvino'):
        int8_matmul_rate('pytorch')


def test_agreement_counts_pixels_with_the_same_label():
    ref = torch.zeros(1, 2, 2, 2)
    ref[:, 0] = 1.0  # label 0 everywhere
    other = ref.clone()
    other[0, 1, 0, 0] = 2.0  # one of four pixels flips to label 1
    result = agreement(ref, other)
    assert result['label_agreement'] == 75.0
    assert result['max_abs_diff'] == 2.0
    with pytest.raises(ValueError, match='cannot be compared'):
        agreement(ref, other[:, :, :1])
