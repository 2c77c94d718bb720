import pytest
import torch
from mmseg.registry import MODELS


def _head(r=4, **kw):
    return MODELS.build(
        dict(type='SISRHead', in_channels=8, upscale_factor=r, **kw))


def test_espcn_structure_and_output_size():
    head = _head(4, channels=(64, 32))
    convs = [m for m in head.reconstruct if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3)]
    assert convs[-1].out_channels == 3 * 16
    assert isinstance(head.reconstruct[-1], torch.nn.PixelShuffle)
    out = head([torch.randn(2, 8, 5, 7)])
    assert out.shape == (2, 3, 20, 28)


def test_loss_is_weighted_mse_against_target():
    head = _head(2)
    feats = [torch.randn(1, 8, 4, 4)]
    target = torch.randn(1, 3, 8, 8)
    losses, image = head.loss(feats, target)
    expected = 0.1 * ((image - target)**2).mean()
    torch.testing.assert_close(losses['loss_sr'], expected)


def test_off_by_padding_is_resized_but_wrong_factor_raises():
    head = _head(4)
    feats = [torch.randn(1, 8, 23, 30)]  # 360x480 at stride 16 -> 368x480
    _, image = head.loss(feats, torch.randn(1, 3, 90, 120))
    assert image.shape[2:] == (90, 120)
    with pytest.raises(
            ValueError, match=r'SISR output \(92, 120\).*\(46, 60\)'):
        head.loss(feats, torch.randn(1, 3, 46, 60))


@pytest.mark.parametrize('r', [0, -2, 2.5])
def test_bad_upscale_factor_raises(r):
    with pytest.raises(ValueError, match='upscale_factor'):
        _head(r)


def test_hidden_fa_features_are_the_last_hidden_layer_at_hr():
    torch.manual_seed(0)
    head = _head(2, channels=(16, 12), fa_features='hidden')
    feats = [torch.randn(1, 8, 4, 6)]
    target = torch.randn(1, 3, 8, 12)
    losses, fa_feats = head.loss(feats, target)
    hidden = head.reconstruct[:-2](feats[0])  # (1, 12, 4, 6)
    expected = torch.nn.functional.interpolate(
        hidden, size=(8, 12), mode='bilinear', align_corners=False)
    torch.testing.assert_close(fa_feats, expected)
    # The reconstruction loss is the same as with the image handed to FA.
    image_head = _head(2, channels=(16, 12))
    image_head.load_state_dict(head.state_dict())
    torch.testing.assert_close(image_head.loss(feats, target)[0], losses)


def test_unknown_fa_features_fail_at_build():
    with pytest.raises(ValueError, match="fa_features must be 'image' or "
                       "'hidden', got 'rgb'"):
        _head(2, fa_features='rgb')
