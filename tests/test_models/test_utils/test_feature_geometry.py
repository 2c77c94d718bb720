import pytest
import torch
from torch import nn

from mmseg_dsrl.models.utils.feature_geometry import (
    FeatureGeometryError, locate_inference_output, preserved_buffers,
    run_shapes_only, sub_pixel_factor, training_structure)


@pytest.mark.parametrize('hr,feat,expected', [
    ((1024, 2048), (16, 32), 64),
    ((360, 480), (6, 8), 64),  # CamVid: ceil-rounded stride-32 maps of LR
    ((360, 480), (45, 60), 8),
    ((518, 518), (37, 37), 14),  # patch-14 ViT: exact, not a power of two
    ((256, 256), (48, 48), None),
])
def test_sub_pixel_factor(hr, feat, expected):
    assert sub_pixel_factor(hr, feat) == expected


def test_training_structure_keeps_norm_statistics_and_restores_modes():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                          nn.Dropout(0.5))
    model.eval()
    model[0].train()
    before = model[1].running_mean.clone()
    with training_structure(model):
        assert model.training and model[0].training
        assert not model[1].training and not model[2].training
        out1 = model(torch.randn(2, 3, 8, 8, generator=torch.Generator()
                                 .manual_seed(0)))
        out2 = model(torch.randn(2, 3, 8, 8, generator=torch.Generator()
                                 .manual_seed(0)))
    torch.testing.assert_close(out1, out2)  # no dropout
    assert torch.equal(model[1].running_mean, before)
    assert [m.training for m in model] == [True, False, False]
    assert not model.training


class _EMALike(nn.Module):
    """Updates a buffer in training, as EMANet's bases do."""

    def __init__(self):
        super().__init__()
        self.register_buffer('bases', torch.ones(3))

    def forward(self, x):
        if self.training:
            self.bases.mul_(0.5).add_(x.mean())
        return x * self.bases.sum()


def test_probe_leaves_no_trace_in_buffers_fake_or_real():
    m = _EMALike().train()
    with preserved_buffers(m):
        assert run_shapes_only(m, torch.zeros(2, 3)).shape == (2, 3)
        m(torch.full((2, 3), 7.0))  # a real update inside the block
    assert type(m.bases) is torch.Tensor
    assert torch.equal(m.bases, torch.ones(3))


def test_run_shapes_only_falls_back_to_a_real_run():

    def data_dependent(x):
        return x[x > 0]  # dynamic shape: fake tensors cannot run it

    out = run_shapes_only(data_dependent, torch.tensor([1.0, -1.0, 2.0]))
    assert type(out) is torch.Tensor and out.tolist() == [1.0, 2.0]


def test_locate_inference_output_matches_values_across_sizes():
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(1, 3, 4, 4, generator=g) for _ in range(3)]
    predicted = nn.functional.interpolate(
        maps[1], size=(8, 8), mode='bilinear', align_corners=False)
    assert locate_inference_output(maps, predicted, False) == 1
    with pytest.raises(FeatureGeometryError, match='inference_output_index'):
        locate_inference_output(maps, torch.randn(1, 3, 8, 8), False, 'H')
