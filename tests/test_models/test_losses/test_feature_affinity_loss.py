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
    (dict(p=0), 'p must be > 0, got 0'),
    (dict(subsample=0), 'subsample must be an int >= 1, got 0'),
    (dict(pool='median'), "pool must be one of .* got 'median'"),
    (dict(loss_name='fa'), "must start with 'loss_'"),
])
def test_bad_config_raises_at_build(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureAffinityLoss(**kwargs)
