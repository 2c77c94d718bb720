import pytest
import torch
from torch import nn

from mmseg_dsrl.models.layers import SSSRUpsample


@pytest.mark.parametrize('factor, stages', [(2, 1), (4, 2), (8, 3)])
def test_exact_doubling_per_stage_on_odd_sizes(factor, stages):
    layer = SSSRUpsample(6, factor)
    out = layer(torch.randn(2, 6, 7, 9))
    assert out.shape == (2, 6, 7 * factor, 9 * factor)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in layer) == stages
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layer) == stages


def test_linear_last_stage_keeps_scores_signed():
    layer = SSSRUpsample(4, 4, linear_last=True, init='default')
    assert isinstance(layer[-1], nn.ConvTranspose2d)
    assert layer[-1].bias is not None
    assert (layer(torch.randn(2, 4, 5, 5)) < 0).any()
    assert isinstance(SSSRUpsample(4, 4)[-1], nn.ReLU)


def test_bilinear_init_is_linear_interpolation():
    layer = SSSRUpsample(3, 2, linear_last=True)
    x = torch.randn(1, 3, 4, 5)
    out = layer(x)
    torch.testing.assert_close(out[:, :, ::2, ::2], x)  # samples kept
    # Odd rows (interior) average their two neighbours.
    torch.testing.assert_close(out[:, :, 1:-1:2, ::2],
                               (x[:, :, :-1] + x[:, :, 1:]) / 2)
    torch.testing.assert_close(out[:, :, ::2, 1:-1:2],
                               (x[..., :-1] + x[..., 1:]) / 2)


def test_default_init_is_random():
    layer = SSSRUpsample(3, 2, init='default')
    w = layer[0].weight
    assert not torch.equal(w[0, 1], torch.zeros_like(w[0, 1]))
    with pytest.raises(ValueError, match="init must be one of .* 'xavier'"):
        SSSRUpsample(3, 2, init='xavier')


@pytest.mark.parametrize('factor', [1, 3, 6, 0, 2.0])
def test_unreachable_factor_raises(factor):
    with pytest.raises(ValueError, match='power of two'):
        SSSRUpsample(4, factor)
