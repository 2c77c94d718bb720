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


def test_last_activation_optional():
    with_act = SSSRUpsample(4, 4, act_last=True)
    without = SSSRUpsample(4, 4, act_last=False)
    assert isinstance(with_act[-1], nn.ReLU)
    assert isinstance(without[-1], nn.BatchNorm2d)
    # Signed outputs survive without the last activation.
    assert (without(torch.randn(2, 4, 5, 5)) < 0).any()


@pytest.mark.parametrize('factor', [1, 3, 6, 0, 2.0])
def test_unreachable_factor_raises(factor):
    with pytest.raises(ValueError, match='power of two'):
        SSSRUpsample(4, factor)
