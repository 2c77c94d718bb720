import pytest
import torch

from mmseg_dsrl.models.functional.head_outputs import (feature_map,
                                                     feature_maps,
                                                     map_score_maps,
                                                     score_maps)


def test_feature_maps_of_every_backbone_structure():
    a, b = torch.zeros(1, 4, 8, 8), torch.zeros(1, 6, 4, 4)
    cls_token = torch.zeros(1, 6)
    # one tensor (DDRNet at inference), a tuple, ViT's [feature, cls] pairs
    assert feature_maps(a) == [a]
    assert [m is r for m, r in zip(feature_maps((a, b)), (a, b))] == [1, 1]
    maps = feature_maps([[a, cls_token], [b, cls_token]])
    assert maps[0] is a and maps[1] is b


def test_feature_map_rejects_what_has_no_map():
    with pytest.raises(ValueError, match=r'tensor of shape \(1, 6\)'):
        feature_map(torch.zeros(1, 6))
    with pytest.raises(ValueError, match='list'):
        feature_map([torch.zeros(1, 6)])


def test_map_score_maps_keeps_structure_and_non_score_outputs():
    k = 3
    seg, aux = torch.ones(2, k, 4, 4), torch.ones(2, k, 4, 4)
    se = torch.ones(2, k)  # EncHead's SE vector: not spatial
    edge = torch.ones(2, 1, 4, 4)  # PIDNet's boundary map: 1 channel
    out = map_score_maps((seg, [aux, edge], se), lambda t: t * 2, k)
    assert isinstance(out, tuple) and isinstance(out[1], list)
    assert out[0].eq(2).all() and out[1][0].eq(2).all()
    assert out[1][1] is edge and out[2] is se
    assert [m.shape for m in score_maps(out, k)] == [(2, k, 4, 4)] * 2
    assert score_maps(se, k) == []
