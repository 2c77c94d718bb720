import pytest
import torch
import torch.nn.functional as F

from mmseg_dsrl.models.layers import CascadeFeatureFusion, PyramidPoolingSum


def test_cff_fuses_at_high_resolution_and_returns_upsampled_low():
    cff = CascadeFeatureFusion(16, 8, 12).eval()
    low, high = torch.randn(2, 16, 5, 7), torch.randn(2, 8, 10, 14)
    fused, low_up = cff(low, high)
    assert fused.shape == (2, 12, 10, 14) and (fused >= 0).all()
    torch.testing.assert_close(
        low_up,
        F.interpolate(
            low, size=(10, 14), mode='bilinear', align_corners=False))
    torch.testing.assert_close(
        fused, F.relu(cff.low_conv(low_up) + cff.high_proj(high)))
    assert cff.low_conv.conv.dilation == (2, 2)
    assert cff.low_conv.activate is None if hasattr(
        cff.low_conv, 'activate') else not cff.low_conv.with_activation


def test_cff_odd_sizes_upsample_to_the_high_branch():
    cff = CascadeFeatureFusion(4, 4, 4)
    fused, _ = cff(torch.randn(1, 4, 4, 5), torch.randn(1, 4, 7, 9))
    assert fused.shape[2:] == (7, 9)


def test_pyramid_pooling_impls_agree_and_sum_into_input():
    x = torch.randn(2, 6, 32, 64)
    a = PyramidPoolingSum(pool_impl='matmul')(x)
    b = PyramidPoolingSum(pool_impl='adaptive')(x)
    torch.testing.assert_close(a, b)
    assert a.shape == x.shape
    # bin 1 alone adds the global mean of every channel.
    one = PyramidPoolingSum(bins=(1, ))(x)
    torch.testing.assert_close(one - x,
                               x.mean((2, 3), keepdim=True).expand_as(x))


@pytest.mark.parametrize('kw, match', [(dict(pool_impl='max'), 'pool_impl'),
                                       (dict(bins=(0, 2)), 'bins')])
def test_pyramid_pooling_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        PyramidPoolingSum(**kw)
