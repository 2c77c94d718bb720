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
    (InferencePath(precision='int8'), 'cpu', "got 'int8'"),
])
def test_impossible_paths_are_refused(path, device, match):
    with pytest.raises(ValueError, match=match):
        path.check(device)


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
