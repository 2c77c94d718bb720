import pytest
import torch
import torch.nn.functional as F

from mmseg_dsrl.models.functional import naive_affinity_distance
from mmseg_dsrl.models.losses import FeatureAffinityLoss


def _feats(seed=0, h=16, w=24):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 7, h, w, generator=g, dtype=torch.float64),
            torch.randn(2, 3, h, w, generator=g, dtype=torch.float64))


def test_matches_paper_formula_with_subsampling_and_batch_mean():
    seg, sr = _feats()
    loss = FeatureAffinityLoss(subsample=4, loss_weight=2.5)(seg, sr)
    ref = naive_affinity_distance(
        F.avg_pool2d(seg, 4), F.avg_pool2d(sr, 4), p=2, q=1).mean() * 2.5
    torch.testing.assert_close(loss, ref)


def test_q2_and_sum_reduction():
    seg, sr = _feats(1)
    loss = FeatureAffinityLoss(q=2, subsample=2, reduction='sum')(seg, sr)
    ref = naive_affinity_distance(
        F.avg_pool2d(seg, 2), F.avg_pool2d(sr, 2), q=2).sum()
    torch.testing.assert_close(loss, ref)


def test_max_pool_and_reduction_override():
    seg, sr = _feats(2)
    loss = FeatureAffinityLoss(
        pool='max', subsample=8)(
            seg, sr, reduction_override='none')
    ref = naive_affinity_distance(F.max_pool2d(seg, 8), F.max_pool2d(sr, 8))
    torch.testing.assert_close(loss, ref)


def test_loss_name_and_gradient_reaches_both_inputs():
    seg, sr = _feats(3)
    seg.requires_grad_()
    sr.requires_grad_()
    module = FeatureAffinityLoss(subsample=2)
    assert module.loss_name == 'loss_fa'
    module(seg, sr).backward()
    assert seg.grad.abs().sum() > 0 and sr.grad.abs().sum() > 0


def test_different_spatial_size_raises():
    with pytest.raises(ValueError, match=r'\(16, 24\).*\(8, 12\)'):
        FeatureAffinityLoss()(torch.randn(1, 3, 16, 24),
                              torch.randn(1, 3, 8, 12))


@pytest.mark.parametrize('kwargs, match', [
    (dict(q=3), 'q must be 1 or 2, got 3'),
    (dict(p=0), 'p must be > 0 .or None: no normalisation., got 0'),
    (dict(subsample=0), 'subsample must be an int >= 1, got 0'),
    (dict(pool='median'), "pool must be one of .* got 'median'"),
    (dict(loss_name='fa'), "must start with 'loss_'"),
])
def test_bad_config_raises_at_build(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureAffinityLoss(**kwargs)


@pytest.mark.parametrize('gradient_to, seg_moves, sr_moves', [
    ('both', True, True),
    ('seg', True, False),
    ('sr', False, True),
])
def test_gradient_to_picks_the_side_fa_trains(gradient_to, seg_moves,
                                              sr_moves):
    seg, sr = _feats(4)
    seg.requires_grad_()
    sr.requires_grad_()
    loss = FeatureAffinityLoss(subsample=2, gradient_to=gradient_to)(seg, sr)
    # The value does not depend on where the gradient goes.
    torch.testing.assert_close(
        loss,
        FeatureAffinityLoss(subsample=2)(seg.detach(), sr.detach()))
    loss.backward()
    for tensor, moves in ((seg, seg_moves), (sr, sr_moves)):
        if moves:
            assert tensor.grad.abs().sum() > 0
        else:
            assert tensor.grad is None


def test_unnormalised_variant_matches_the_dot_product_reference():
    seg, sr = _feats(5)
    loss = FeatureAffinityLoss(p=None, subsample=4)(seg, sr)
    ref = naive_affinity_distance(
        F.avg_pool2d(seg, 4), F.avg_pool2d(sr, 4), p=None).mean()
    torch.testing.assert_close(loss, ref)
    assert not torch.allclose(loss, FeatureAffinityLoss(subsample=4)(seg,
                                                                     sr))


def test_warmup_gives_zero_then_the_loss(monkeypatch):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('fa_warmup_test')
    seg, sr = _feats(6)
    seg.requires_grad_()
    module = FeatureAffinityLoss(subsample=2, warmup_iters=10)
    hub.update_info('iter', 9)
    zero = module(seg, sr)
    assert zero.item() == 0
    zero.backward()  # connected to the inputs (DDP), gradient zero
    assert seg.grad.abs().sum() == 0
    hub.update_info('iter', 10)
    torch.testing.assert_close(module(seg, sr),
                               FeatureAffinityLoss(subsample=2)(seg, sr))
    module.eval()  # validation: no warm-up
    hub.update_info('iter', 0)
    assert module(seg, sr).item() > 0


def test_warmup_without_an_iteration_fails_clearly():
    from mmengine.logging import MessageHub
    MessageHub.get_instance('fa_warmup_no_iter')  # current, holds no 'iter'
    seg, sr = _feats(7)
    with pytest.raises(RuntimeError, match="holds none"):
        FeatureAffinityLoss(warmup_iters=5)(seg, sr)


@pytest.mark.parametrize('kwargs, match', [
    (dict(gradient_to='image'), "gradient_to must be one of"),
    (dict(warmup_iters=-1), 'warmup_iters must be an int >= 0'),
    (dict(warmup_iters=2.5), 'warmup_iters must be an int >= 0'),
    (dict(p=0), 'p must be > 0'),
    (dict(block_size=0), 'block_size must be None'),
])
def test_bad_options_fail_at_build(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureAffinityLoss(**kwargs)


@pytest.mark.parametrize('pool', ['avg', 'max'])
def test_smaller_seg_features_are_resized_to_the_sr_size(pool):
    """seg_align_corners: the SSSR side is bilinearly brought to the SR
    size first (fused with the pooling for 'avg'): same value as resizing
    it explicitly."""
    seg, sr = _feats(8, h=16, w=24)
    small = F.avg_pool2d(seg, 4)  # (4, 6)
    module = FeatureAffinityLoss(subsample=4, pool=pool)
    resized = F.interpolate(small, size=(16, 24), mode='bilinear',
                            align_corners=False)
    torch.testing.assert_close(
        module(small, sr, seg_align_corners=False), module(resized, sr))
    with pytest.raises(ValueError, match='pass seg_align_corners'):
        module(small, sr)
