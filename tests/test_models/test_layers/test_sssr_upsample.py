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
def test_linear_form_is_the_hosts_bilinear_resize_at_init(factor,
                                                          align_corners):
    """Bilinear-initialised, the stack is F.interpolate's x factor of the
    host's convention, borders included: to f n (half-pixel grid, clamped)
    or to f (n - 1) + 1 (align_corners=True: the samples and the points
    between them)."""
    layer = SSSRUpsample(3, factor, align_corners=align_corners).double()
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.ReLU)) for m in layer)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    size = layer.output_size((5, 7))
    ref = F.interpolate(x, size=size, mode='bilinear',
                        align_corners=align_corners)
    if not align_corners:
        assert size == (5 * factor, 7 * factor)
    torch.testing.assert_close(layer(x), ref)


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('hr', [(44, 60), (45, 61), (90, 120)])
def test_stack_then_resize_is_the_direct_resize(align_corners, hr):
    """The chain resized to any HR size (as the SSSR head's loss and
    prediction do) is exactly the host's direct resize: DSRL at init
    predicts what its LR baseline predicts."""
    layer = SSSRUpsample(4, 4, align_corners=align_corners).double()
    x = torch.randn(1, 4, 11, 15, dtype=torch.float64)
    direct = F.interpolate(x, hr, mode='bilinear',
                           align_corners=align_corners)
    with layer.resized_to(hr):
        torch.testing.assert_close(layer(x), direct)
    # Outside the context (tensor mode) the host's own resize of the
    # output: exact for align_corners=True, close for False.
    traced = F.interpolate(layer(x), hr, mode='bilinear',
                           align_corners=align_corners)
    tol = 1e-12 if align_corners else 0.5
    assert (traced - direct).abs().max() <= tol * x.abs().max()


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
