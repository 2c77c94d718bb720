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


@pytest.mark.parametrize('in_hw, out_hw', [((36, 48), (18, 24)),
                                           ((37, 49), (18, 24)),
                                           ((50, 70), (17, 23))])
def test_antialiased_resize_matches_pytorch(tmp_path, in_hw, out_hw):
    def fn(x):
        return F.interpolate(
            x, size=out_hw, mode='bilinear', align_corners=False,
            antialias=True)

    x = torch.randn(2, 3, *in_hw)
    path = str(tmp_path / 'aa.onnx')
    export_onnx(Wrap(fn), x, path)
    torch.testing.assert_close(run_ort(path, x), fn(x), atol=1e-5, rtol=0)


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
