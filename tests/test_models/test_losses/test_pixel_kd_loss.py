import math

import pytest
import torch
from mmseg.registry import MODELS

from mmseg_dsrl.models.losses import pixel_kd_loss


def _naive(student, teacher, temperature):
    """The per-pixel definition, one pixel at a time."""
    b, k, h, w = student.shape
    total = 0.0
    for n in range(b):
        for i in range(h):
            for j in range(w):
                s = [float(student[n, c, i, j]) / temperature
                     for c in range(k)]
                t = [float(teacher[n, c, i, j]) / temperature
                     for c in range(k)]
                zs = math.log(sum(math.exp(v) for v in s))
                zt = math.log(sum(math.exp(v) for v in t))
                total += sum(
                    math.exp(t[c] - zt) * ((t[c] - zt) - (s[c] - zs))
                    for c in range(k))
    return total / (b * h * w) * temperature**2


@pytest.mark.parametrize('temperature', [1.0, 4.0])
def test_matches_the_per_pixel_definition(temperature):
    g = torch.Generator().manual_seed(0)
    student = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    teacher = 3 * torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    got = pixel_kd_loss(student, teacher, temperature)
    assert got.item() == pytest.approx(
        _naive(student, teacher, temperature), rel=1e-5)


def test_zero_only_when_the_distributions_agree_and_no_gradient_to_teacher():
    g = torch.Generator().manual_seed(1)
    teacher = torch.randn(1, 4, 5, 5, generator=g, requires_grad=True)
    # Shifting every class score by the same amount changes nothing.
    same = (teacher.detach() + 7.0).requires_grad_()
    assert pixel_kd_loss(same, teacher).item() == pytest.approx(0, abs=1e-6)
    student = torch.randn(1, 4, 5, 5, generator=g, requires_grad=True)
    loss = pixel_kd_loss(student, teacher)
    assert loss.item() > 0
    loss.backward()
    assert student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_module_weights_and_reduces():
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4,
                                                             generator=g)
    loss = MODELS.build(dict(type='PixelKDLoss', loss_weight=0.5))
    torch.testing.assert_close(loss(s, t), 0.5 * pixel_kd_loss(s, t))
    per_pixel = pixel_kd_loss(s, t, reduction='none')
    assert per_pixel.shape == (2, 4, 4)
    torch.testing.assert_close(per_pixel.sum(),
                               pixel_kd_loss(s, t, reduction='sum'))
    assert loss.loss_name == 'loss_pixel'


def test_float32_under_bf16_autocast():
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(2, 11, 8, 8, generator=g), torch.randn(
        2, 11, 8, 8, generator=g)
    reference = pixel_kd_loss(s, t)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = pixel_kd_loss(s.bfloat16(), t.bfloat16())
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(reference.item(), rel=0.02)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='temperature must be > 0, got 0'):
        MODELS.build(dict(type='PixelKDLoss', temperature=0))
    with pytest.raises(ValueError, match="loss_name must start with 'loss_'"):
        MODELS.build(dict(type='PixelKDLoss', loss_name='kd'))
    with pytest.raises(ValueError, match=r'student \(1, 3, 4, 4\) vs '
                       r'teacher \(1, 3, 8, 8\)'):
        pixel_kd_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 8))
