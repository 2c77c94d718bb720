import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmseg_dsrl.models.layers import SSSRUpsample


@pytest.mark.parametrize('factor, stages', [(2, 1), (4, 2), (8, 3)])
def test_norm_act_form_doubles_per_stage_on_odd_sizes(factor, stages):
    layer = SSSRUpsample(6, factor, form='norm-act')
    out = layer(torch.randn(2, 6, 7, 9))
    assert out.shape == (2, 6, 7 * factor, 9 * factor)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in layer) == stages
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layer) == stages


@pytest.mark.parametrize('factor', [2, 4, 8])
@pytest.mark.parametrize('align_corners', [False, True])
def test_linear_form_equals_bilinear_resize_at_init(factor, align_corners):
    """Each bilinear-initialised stage is F.interpolate's x2 of the host's
    convention, borders included: to 2n (half-pixel grid, clamped border)
    or to 2n - 1 (align_corners=True)."""
    layer = SSSRUpsample(3, factor, align_corners=align_corners)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.ReLU)) for m in layer)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    ref = x
    for _ in range(len(layer)):
        size = [2 * n - 1 if align_corners else 2 * n for n in ref.shape[2:]]
        ref = F.interpolate(ref, size=size, mode='bilinear',
                            align_corners=align_corners)
    out = layer.double()(x)
    assert out.shape == ref.shape == (2, 3, *layer.output_size((5, 7)))
    torch.testing.assert_close(out, ref)


def test_align_corners_stack_then_resize_is_the_direct_resize():
    """For an align_corners=True host the whole chain, resized to the HR
    size, is exactly the host's direct resize: DSRL at init predicts what
    its LR baseline predicts."""
    layer = SSSRUpsample(4, 4, align_corners=True).double()
    x = torch.randn(1, 4, 11, 15, dtype=torch.float64)
    hr = (44, 60)
    ours = F.interpolate(layer(x), hr, mode='bilinear', align_corners=True)
    torch.testing.assert_close(
        ours, F.interpolate(x, hr, mode='bilinear', align_corners=True))


def test_norm_act_plain_last_stage_keeps_scores_signed():
    layer = SSSRUpsample(4, 4, form='norm-act', plain_last=True,
                         init='default')
    assert isinstance(layer[-1], nn.ConvTranspose2d)
    assert layer[-1].bias is not None
    assert (layer(torch.randn(2, 4, 5, 5)) < 0).any()
    assert isinstance(SSSRUpsample(4, 4, form='norm-act')[-1], nn.ReLU)


def test_official_release_form_has_per_channel_prelu():
    layer = SSSRUpsample(5, 4, form='norm-act', act_cfg=dict(type='PReLU'))
    prelus = [m for m in layer if isinstance(m, nn.PReLU)]
    assert len(prelus) == 2 and prelus[0].num_parameters == 5


def test_norm_act_bilinear_init_is_linear_interpolation():
    layer = SSSRUpsample(3, 2, form='norm-act', plain_last=True)
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
    with pytest.raises(ValueError, match="form must be one of .* 'bn'"):
        SSSRUpsample(3, 2, form='bn')


@pytest.mark.parametrize('factor', [1, 3, 6, 0, 2.0])
def test_unreachable_factor_raises(factor):
    with pytest.raises(ValueError, match='power of two'):
        SSSRUpsample(4, factor)
