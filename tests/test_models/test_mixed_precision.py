"""Mixed precision: every loss term of the shipped CamVid configs under fp16
and bf16 autocast against float32 on the same weights and batch, finite
gradients for every trainable parameter, and mmseg's class-weighted
cross-entropy (which fp16 used to zero) against float32.

CPU autocast runs the same casting machinery as CUDA's: convolutions and
matrix products in the low precision, the plugin's losses in float32.
"""
import pytest
import torch
import torch.nn.functional as F
from dsrl_test_utils import (AMP_RTOL, CAMVID_CONFIGS, assert_losses_close,
                             assert_finite_gradients, build_without_dropout,
                             camvid_batch, losses_of)
from mmseg.models.losses import CrossEntropyLoss


@pytest.fixture(scope='module')
def built_models():
    """One model per config for both precisions (building takes seconds)."""
    return {}


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
@pytest.mark.parametrize('name', list(CAMVID_CONFIGS))
def test_every_loss_term_and_gradient_under_autocast(name, precision,
                                                     built_models):
    """Every loss term close to its float32 value on the same weights and
    batch, and every trainable parameter a finite gradient from the mixed
    precision step."""
    if name not in built_models:
        built_models[name] = build_without_dropout(name)
    model = built_models[name]
    data = camvid_batch()
    mixed = losses_of(model, data, precision)
    assert_losses_close(mixed, losses_of(model, data), AMP_RTOL[precision])
    model.zero_grad(set_to_none=True)
    sum(v for k, v in mixed.items() if 'loss' in k).backward()
    assert_finite_gradients(model)


@pytest.mark.parametrize('ignored', [0.0, 0.05])
def test_class_weighted_cross_entropy_under_float16(ignored):
    """Two CamVid frames of class-weighted CE in float16: mmseg's
    normaliser (one weight per pixel, summed) overflowed float16 to inf, so
    the loss was 0 (or NaN without ignored pixels). With the plugin
    imported it equals the float32 value."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 11, 360, 480, generator=g)
    label = torch.randint(0, 11, (2, 360, 480), generator=g)
    label[torch.rand(2, 360, 480, generator=g) < ignored] = 255
    weight = [0.52, 0.44, 2.14, 0.38, 1.0, 0.68, 1.96, 2.0, 0.87, 2.65, 3.92]
    loss = CrossEntropyLoss(class_weight=weight)
    reference = F.cross_entropy(
        logits, label, weight=torch.tensor(weight), ignore_index=255)
    half = loss(logits.half(), label, ignore_index=255)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, reference, rtol=2e-3, atol=0)
    with torch.autocast('cpu', dtype=torch.float16):
        mixed = loss(logits, label, ignore_index=255)
    torch.testing.assert_close(mixed, reference, rtol=2e-3, atol=0)
