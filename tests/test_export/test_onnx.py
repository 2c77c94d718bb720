"""The ONNX symbolics the exporter gains: exact against PyTorch in ORT."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

pytest.importorskip('onnxruntime')

from mmseg_dsrl.export.onnx import export_onnx  # noqa: E402


class Wrap(nn.Module):
    """A module called like a segmentor (``mode='tensor'``)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, mode='tensor'):
        return self.fn(x)


def run_ort(path, x):
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return torch.from_numpy(session.run(None, {'input': x.numpy()})[0])


# The configs' LR inputs (CamVid 368x480 / 384x480 / 384x512 at 0.5 and
# 0.25, Cityscapes 1024x2048 at 0.5) and sizes no factor divides.
AA_SIZES = [((36, 48), (18, 24)), ((37, 49), (18, 24)), ((50, 70), (17, 23)),
            ((368, 480), (184, 240)), ((384, 480), (192, 240)),
            ((384, 512), (96, 128)), ((64, 96), (8, 12)),
            ((1024, 2048), (512, 1024))]


@pytest.mark.parametrize('in_hw, out_hw', AA_SIZES)
def test_antialiased_resize_is_exported_as_exact_portable_operators(
        tmp_path, in_hw, out_hw):
    """At a traced size the anti-aliased downsampling is filters with a
    stride (integer factors) or constant matrix products, never ONNX's
    anti-aliased Resize (which OpenVINO computes differently)."""
    import onnx

    def fn(x):
        return F.interpolate(
            x, size=out_hw, mode='bilinear', align_corners=False,
            antialias=True)

    x = torch.randn(1, 3, *in_hw)
    path = str(tmp_path / 'aa.onnx')
    export_onnx(Wrap(fn), x, path)
    torch.testing.assert_close(run_ort(path, x), fn(x), atol=1e-5, rtol=0)
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert 'Resize' not in ops
    integer = all(i % o == 0 for i, o in zip(in_hw, out_hw))
    assert ('Conv' in ops) == integer and ('MatMul' in ops) != integer


@pytest.mark.parametrize('in_size, out_size', [(360, 180), (480, 120),
                                               (1024, 128), (9, 3)])
def test_strided_filter_equals_pytorch_antialiased_resize(in_size, out_size):
    from mmseg_dsrl.models.functional.resize import (
        antialiased_as_strided_filter, antialiased_matrix)
    f = antialiased_as_strided_filter(in_size, out_size)
    assert f.stride == in_size // out_size
    x = torch.randn(4, 1, in_size, dtype=torch.float64)
    y = F.conv1d(F.pad(x, f.padding), f.weight[None, None],
                 stride=f.stride) * f.scale
    reference = F.interpolate(x[..., None].float().expand(-1, -1, -1, 2),
                              size=(out_size, 2), mode='bilinear',
                              align_corners=False,
                              antialias=True)[..., 0].double()
    torch.testing.assert_close(y, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(antialiased_matrix(in_size, out_size) @ x[
        :, 0, :, None], reference[:, 0, :, None], atol=1e-5, rtol=0)
    assert antialiased_as_strided_filter(in_size + 1, out_size) is None


@pytest.mark.parametrize('bins', [(3, 3), (6, 4), (2, 2), (1, 1)])
def test_adaptive_average_pooling_matches_pytorch(tmp_path, bins):
    def fn(x):
        return F.adaptive_avg_pool2d(x, bins)

    x = torch.randn(2, 4, 8, 16)
    path = str(tmp_path / 'pool.onnx')
    export_onnx(Wrap(fn), x, path)
    torch.testing.assert_close(run_ort(path, x), fn(x), atol=1e-5, rtol=0)


def test_export_leaves_the_model_in_eval_mode(tmp_path):
    """torch's exporter restores the traced module's mode afterwards: a
    wrapper in training mode would leave BN using batch statistics."""
    model = Wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))).eval()
    export_onnx(model, torch.randn(1, 3, 8, 8), str(tmp_path / 'bn.onnx'))
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize('scale', [0.5, 0.25])
def test_espnetv2_lr_and_dsrl_graphs_export_exactly(tmp_path, scale):
    """ESPNetv2's pyramid pooling (adaptive pooling at traced sizes) and the
    LR input downsampling export; ONNX Runtime gives PyTorch's logits."""
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    head = dict(type='ESPNetV2Head', in_channels=(16, 32, 64, 128),
                in_index=(0, 1, 2, 3), channels=3, num_classes=5,
                dropout_ratio=0.0)
    for cfg in (
            dict(type='LRInputEncoderDecoder', input_scale=scale),
            dict(type='DSRLEncoderDecoder', input_scale=scale,
                 probe_size=(64, 96), sssr_head=dict(type='SSSRHead'))):
        model = MODELS.build(dict(
            cfg, backbone=dict(type='ESPNetV2', widen_factor=0.5),
            decode_head=head,
            data_preprocessor=dict(type='SegDataPreProcessor',
                                   size=(64, 96)))).eval()
        x = torch.randn(1, 3, 64, 96)
        path = str(tmp_path / f'{cfg["type"]}.onnx')
        export_onnx(model, x, path)
        with torch.no_grad():
            expected = model(x, mode='tensor')
        torch.testing.assert_close(run_ort(path, x), expected, atol=1e-4,
                                   rtol=0)
