import pytest
import torch
from mmseg.registry import MODELS

from mmseg_dsrl.models.backbones import ESPNETV2_CHANNELS
from mmseg_dsrl.models.backbones.espnetv2 import (
    EESP,
    StridedEESP,
    eesp_dilations,
    pool_half,
)


@pytest.mark.parametrize('limit, expected', [
    (13, [1, 2, 3, 4]),  # receptive fields 3, 5, 7, 9: all within 13
    (9, [1, 2, 3, 4]),
    (7, [1, 1, 2, 3]),  # 9 > 7 falls back to 3x3 and sorts first
    (5, [1, 1, 1, 2]),
])
def test_eesp_dilations_follow_receptive_field_limit(limit, expected):
    assert eesp_dilations(4, limit) == expected


def test_eesp_is_hierarchical_sum_of_dilated_branches():
    block = EESP(16, 16, branches=4, receptive_field_limit=9).eval()
    x = torch.randn(1, 16, 9, 11)
    # Naive reference: branch k sees the reduced map; outputs are summed
    # cumulatively before the merge.
    r = block.reduce(x)
    outs, acc = [], 0
    for conv in block.branches:
        acc = acc + conv(r)
        outs.append(acc)
    merged = block.expand(block.merge_act(block.merge_norm(torch.cat(outs,
                                                                     1))))
    torch.testing.assert_close(block(x), block.act(merged + x))
    assert [c.dilation[0] for c in block.branches] == [1, 2, 3, 4]


def test_strided_eesp_concatenates_pool_and_adds_reinforcement():
    unit = StridedEESP(8, 24).eval()
    x, image = torch.randn(2, 8, 10, 14), torch.randn(2, 3, 5, 7)
    out = unit(x, image)
    assert out.shape == (2, 24, 5, 7)
    expected = torch.cat([pool_half(x), unit.eesp(x)], 1) + \
        unit.reinforce(image)
    torch.testing.assert_close(out, unit.act(expected))
    # the pooled input is the first 8 channels before the activation
    torch.testing.assert_close(
        torch.cat([pool_half(x), unit.eesp(x)], 1)[:, :8],
        torch.nn.functional.avg_pool2d(x, 3, 2, 1))


@pytest.mark.parametrize('s', sorted(ESPNETV2_CHANNELS))
def test_levels_halve_with_ceil_on_odd_sizes(s):
    net = MODELS.build(dict(type='ESPNetV2', widen_factor=s))
    outs = net(torch.randn(1, 3, 45, 61))
    sizes = [tuple(o.shape[2:]) for o in outs]
    assert sizes == [(23, 31), (12, 16), (6, 8), (3, 4)]
    assert [o.shape[1] for o in outs] == list(ESPNETV2_CHANNELS[s])


def test_out_indices_select_levels():
    net = MODELS.build(dict(type='ESPNetV2', widen_factor=0.5,
                            out_indices=(1, 3)))
    outs = net(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [32, 128]


def test_every_parameter_gets_a_gradient():
    """No parameter is built and left unused (DDP would stop on it)."""
    net = MODELS.build(dict(type='ESPNetV2', widen_factor=0.5))
    sum(o.mean() for o in net(torch.randn(2, 3, 32, 48))).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_released_s2_has_its_parameter_count():
    """EdgeNets' s=2.0 segmentation model: 0.789 M parameters in all; its
    encoder without level 5 is most of them."""
    net = MODELS.build(dict(type='ESPNetV2', widen_factor=2.0))
    n = sum(p.numel() for p in net.parameters())
    assert 0.6e6 < n < 0.789e6


@pytest.mark.parametrize('kwargs, match', [
    (dict(widen_factor=3.0), r'widen_factor must be one of .*got 3.0'),
    (dict(num_blocks=(3, )), r'num_blocks for levels 3 and 4'),
    (dict(out_indices=(4, )), r'out_indices must be among 0-3'),
])
def test_bad_arguments_are_refused_with_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(type='ESPNetV2', **kwargs))


def test_eesp_refuses_channels_the_branches_do_not_divide():
    with pytest.raises(ValueError, match=r'out_channels=24 by 16'):
        EESP(8, 24)
