import pytest
import torch

from mmseg_dsrl.models.losses import PixelMSELoss


def test_weighted_mean_squared_error():
    pred = torch.tensor([[[[1., 2.], [3., 4.]]]])
    target = torch.zeros_like(pred)
    assert PixelMSELoss(loss_weight=0.1)(pred, target).item() == \
        pytest.approx(0.1 * 30 / 4)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r'\(1, 3, 4, 4\).*\(1, 3, 4, 5\)'):
        PixelMSELoss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
