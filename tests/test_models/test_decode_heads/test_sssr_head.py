import pytest
import torch
from dsrl_test_utils import NUM_CLASSES, seg_batch, tiny_head  # noqa: I100
from mmseg.registry import MODELS


def _feats(h=8, w=12):
    return [torch.randn(2, c, h, w) for c in (16, 32, 64, 128)]


@pytest.mark.parametrize('variant', ['logits', 'features'])
def test_output_is_upsampled_scores_on_odd_size(variant):
    head = MODELS.build(
        dict(
            type='SSSRHead',
            head=tiny_head(),
            upsample_factor=4,
            variant=variant))
    out = head(_feats(5, 7))
    assert out.shape == (2, NUM_CLASSES, 20, 28)


def test_logits_variant_deconvolves_the_wrapped_heads_scores():
    head = MODELS.build(dict(type='SSSRHead', head=tiny_head())).eval()
    x = _feats()
    torch.testing.assert_close(head(x), head.upsample(head.head(x)))


def test_features_variant_classifies_upsampled_features():
    head = MODELS.build(
        dict(type='SSSRHead', head=tiny_head(), variant='features')).eval()
    x = _feats()
    expected = head.head.cls_seg(head.upsample(head.head._forward_feature(x)))
    torch.testing.assert_close(head(x), expected)
    assert head.upsample.channels == head.head.channels


def test_delegates_segmentor_facing_attributes():
    head = MODELS.build(dict(type='SSSRHead', head=tiny_head()))
    assert head.num_classes == NUM_CLASSES
    assert head.out_channels == NUM_CLASSES
    assert head.align_corners is False
    assert head.ignore_index == 255


@pytest.mark.parametrize('variant', ['logits', 'features'])
def test_loss_and_features_give_every_parameter_a_gradient(variant):
    head = MODELS.build(
        dict(
            type='SSSRHead',
            head=tiny_head(),
            variant=variant,
            with_fa_transform=True,
            fa_transform_channels=8))
    _, samples = seg_batch(h=32, w=48)
    losses, (fa, hr_scores) = head.loss_and_features(_feats(8, 12), samples,
                                                     {})
    assert fa.shape == (2, 8, 32, 48)
    assert hr_scores is None  # not asked for
    assert set(losses) == {'loss_ce', 'acc_seg'}
    (losses['loss_ce'] + fa.mean()).backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_hr_scores_are_the_map_the_wrapped_heads_loss_supervises():
    """``with_hr_scores``: the HR class scores handed to an HR teacher's
    losses are the very tensor the head's cross-entropy reads."""
    head = MODELS.build(
        dict(type='SSSRHead', head=tiny_head(), with_hr_scores=True))
    _, samples = seg_batch(h=32, w=48)
    seen = []
    original = head.head.loss_by_feat

    def loss_by_feat(seg_logits, *args):
        seen.append(seg_logits)
        return original(seg_logits, *args)

    head.head.loss_by_feat = loss_by_feat
    _, (fa, hr_scores) = head.loss_and_features(_feats(8, 12), samples, {})
    assert fa is None
    assert hr_scores is seen[0]
    assert hr_scores.shape == (2, NUM_CLASSES, 32, 48)
    # The host-segmentor path keeps them until popped, then lets go.
    head.loss(_feats(8, 12), samples, {})
    assert head.pop_training_features().hr_scores.shape == hr_scores.shape
    with pytest.raises(RuntimeError, match='call loss'):
        head.pop_training_features()


def test_predict_resizes_to_image_shape():
    head = MODELS.build(dict(type='SSSRHead', head=tiny_head())).eval()
    metas = [dict(img_shape=(50, 70), pad_shape=(50, 70))] * 2
    assert head.predict(_feats(), metas, {}).shape == (2, NUM_CLASSES, 50, 70)


def test_features_variant_rejects_head_without_features():
    cfg = dict(
        type='SSSRHead',
        variant='features',
        head=dict(
            type='DepthwiseSeparableASPPHead',
            in_channels=128,
            in_index=3,
            channels=32,
            dilations=(1, 2),
            c1_in_channels=16,
            c1_channels=8,
            num_classes=NUM_CLASSES))
    with pytest.raises(ValueError, match='DepthwiseSeparableASPPHead'):
        MODELS.build(cfg)


def test_bad_variant_and_factor_raise():
    with pytest.raises(ValueError, match="got 'pixels'"):
        MODELS.build(dict(type='SSSRHead', head=tiny_head(), variant='pixels'))
    with pytest.raises(ValueError, match='power of two .* got 3'):
        MODELS.build(
            dict(type='SSSRHead', head=tiny_head(), upsample_factor=3))


def test_loss_at_hr_label_size_even_for_label_downsampling_heads():
    head = MODELS.build(
        dict(type='SSSRHead', upsample_factor=2,
             head=dict(type='CascadeGuidanceHead', in_channels=128,
                       in_index=3, num_classes=NUM_CLASSES,
                       loss_decode=dict(type='CrossEntropyLoss'))))
    _, samples = seg_batch(h=32, w=48, ignore_frac=0.0)
    seen = []
    original = head.head.loss_by_feat
    head.head.loss_by_feat = lambda logits, s: seen.append(
        tuple(logits.shape[2:])) or original(logits, s)
    head.loss(_feats(8, 12), samples, {})
    assert seen == [(32, 48)]  # 8x12 -> x2 deconv -> bilinear to the label


def test_standard_head_loss_resizes_once_and_equals_mmseg_reference(
        monkeypatch):
    """SSSR's upsampling resizes its grid to the label itself (exactly as
    the host would resize its own scores; mmseg's resize in the head's loss
    is then a same-size copy, no second interpolation) and the loss equals
    mmseg's loss on those scores."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    head = MODELS.build(dict(type='SSSRHead', head=tiny_head()))
    _, samples = seg_batch(h=50, w=70, ignore_frac=0.1)
    x = _feats(8, 12)
    calls = []
    interpolate = F.interpolate

    def recording(inp, *args, **kwargs):
        out = interpolate(inp, *args, **kwargs)
        calls.append((tuple(inp.shape[2:]), tuple(out.shape[2:])))
        return out

    monkeypatch.setattr(F, 'interpolate', recording)
    losses = head.loss(x, samples, {})
    monkeypatch.setattr(F, 'interpolate', interpolate)
    assert calls == [((50, 70), (50, 70))]  # mmseg's same-size resize
    with head.upsample.resized_to((50, 70)):
        scores = head.upsample(head.head(x))
    assert scores.shape[2:] == (50, 70)
    expected = head.head.loss_by_feat(scores, samples)
    torch.testing.assert_close(losses['loss_ce'], expected['loss_ce'])


def test_checkpoint_of_the_plain_model_loads_into_the_wrapped_head():
    """DSRL fine-tunes a model trained without it: an LR baseline's (or a
    pretrained model's) decode-head weights load into the wrapped head,
    strictly, whether or not the SSSR layers are in the checkpoint."""
    plain = MODELS.build(tiny_head())
    head = MODELS.build(dict(type='SSSRHead', head=tiny_head()))
    upsample = {f'upsample.{k}': v
                for k, v in head.upsample.state_dict().items()}
    result = head.load_state_dict({**plain.state_dict(), **upsample})
    assert not result.missing_keys and not result.unexpected_keys
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(head.head.state_dict()[k], v)
    result = head.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(result.missing_keys) == sorted(upsample)
    assert not result.unexpected_keys
