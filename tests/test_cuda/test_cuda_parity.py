"""CUDA against CPU: same weights, same batch, same numbers.

Skipped on machines without a GPU (CI has none); run them where one is:
``python -m pytest tests/test_cuda``.
"""
import copy

import pytest
import torch
from dsrl_icnet_utils import tiny_icnet_cfg
from dsrl_test_utils import (AMP_RTOL, CAMVID_CONFIGS,
                             assert_autocast_loss_close, assert_finite_gradients,
                             assert_losses_close,
                             build_without_dropout, camvid_batch, losses_of,
                             seg_batch, tiny_segmentor_cfg)
from mmseg.registry import MODELS

from mmseg_dsrl.models.functional import (affinity_distance,
                                          naive_affinity_distance)

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device')


@pytest.fixture(autouse=True)
def _exact_float32():
    """TF32 would put 1e-3 relative noise on every conv and matmul."""
    old = (torch.backends.cudnn.allow_tf32,
           torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    (torch.backends.cudnn.allow_tf32,
     torch.backends.cuda.matmul.allow_tf32) = old


def _on_cuda(inputs, samples):
    return inputs.cuda(), [s.to('cuda') for s in samples]


def _relative_error(x, ref):
    return ((x.double().cpu() - ref.double()).norm() /
            ref.double().norm().clamp_min(1e-12)).item()


def _train_step_parity(cfg, h=64, w=96):
    """Losses and gradients of one training step on CPU and on CUDA."""
    cpu = MODELS.build(cfg)
    gpu = copy.deepcopy(cpu).cuda()
    inputs, samples = seg_batch(h=h, w=w)
    ref = cpu.loss(inputs, samples)
    out = gpu.loss(*_on_cuda(inputs, samples))
    assert set(out) == set(ref)
    for name in ref:
        if 'loss' in name:
            torch.testing.assert_close(
                out[name].cpu(), ref[name], rtol=1e-4, atol=1e-6)
    sum(v for k, v in ref.items() if 'loss' in k).backward()
    sum(v for k, v in out.items() if 'loss' in k).backward()
    gpu_params = dict(gpu.named_parameters())
    for name, p in cpu.named_parameters():
        # FA's sign(S^a - S^b) may flip on entries within rounding of 0 and
        # float32 sums run in another order, so gradients are compared as a
        # whole per tensor (seen on an H100: at most 1.2e-3, in the stem).
        assert _relative_error(gpu_params[name].grad, p.grad) < 5e-3, name
    return cpu.eval(), gpu.eval(), inputs, samples


def _assert_same_prediction(cpu, gpu, inputs, samples):
    with torch.no_grad():
        ref = cpu.predict(inputs, copy.deepcopy(samples))
        out = gpu.predict(*_on_cuda(inputs, copy.deepcopy(samples)))
    for r, o in zip(ref, out):
        assert o.seg_logits.data.shape == r.seg_logits.data.shape
        assert _relative_error(o.seg_logits.data, r.seg_logits.data) < 1e-4
        agree = (o.pred_sem_seg.data.cpu() == r.pred_sem_seg.data).float()
        assert agree.mean() > 0.999


@pytest.mark.parametrize('q', [1, 2])
def test_fa_distance_on_cuda_matches_naive(q):
    # N = 2700 positions: a CamVid frame at 1/8 scale.
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 11, 45, 60, generator=g, dtype=torch.float64)
    b = torch.randn(2, 3, 45, 60, generator=g, dtype=torch.float64)
    ref = naive_affinity_distance(a, b, q=q)
    a_gpu = a.cuda().float().requires_grad_()
    b_gpu = b.cuda().float().requires_grad_()
    out = affinity_distance(a_gpu, b_gpu, q=q, block_size=256)
    torch.testing.assert_close(out.double().cpu(), ref, rtol=1e-5, atol=0)
    out.sum().backward()
    a_ref, b_ref = a.clone().requires_grad_(), b.clone().requires_grad_()
    naive_affinity_distance(a_ref, b_ref, q=q).sum().backward()
    assert _relative_error(a_gpu.grad, a_ref.grad) < 1e-4
    assert _relative_error(b_gpu.grad, b_ref.grad) < 1e-4


def test_fa_distance_under_float16_autocast():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 11, 45, 60, generator=g).cuda()
    b = torch.randn(2, 3, 45, 60, generator=g).cuda()
    with torch.autocast('cuda', dtype=torch.float16):
        out = affinity_distance(a.half(), b.half())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    ref = naive_affinity_distance(a.double().cpu(), b.double().cpu())
    torch.testing.assert_close(out.double().cpu(), ref, rtol=2e-3, atol=0)


def test_dsrl_train_step_and_prediction():
    _assert_same_prediction(
        *_train_step_parity(tiny_segmentor_cfg(input_scale=0.5)))


def test_lr_input_train_step_and_prediction():
    _assert_same_prediction(*_train_step_parity(
        tiny_segmentor_cfg('LRInputEncoderDecoder', input_scale=0.5)))


@pytest.mark.parametrize('exit', ['sub4', 'sub24', 'sub124'])
def test_icnet_train_step_and_every_exit(exit):
    _assert_same_prediction(*_train_step_parity(tiny_icnet_cfg(exit=exit)))


def test_dsrl_float16_autocast_train_step():
    """What ``tools/train.py --amp`` runs: float16 autocast on CUDA."""
    assert_autocast_loss_close(
        MODELS.build(tiny_segmentor_cfg(input_scale=0.5)).cuda(),
        *_on_cuda(*seg_batch(h=64, w=96)),
        dtype=torch.float16,
        rtol=0.02)


@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
@pytest.mark.parametrize('name', list(CAMVID_CONFIGS))
def test_camvid_configs_under_cuda_autocast(name, precision):
    """The shipped CamVid configs at CamVid size: every loss term under
    CUDA autocast close to float32, every trainable parameter a finite
    gradient."""
    model = build_without_dropout(name, 'cuda')
    data = camvid_batch()
    reference = losses_of(model, data)
    mixed = losses_of(model, data, precision)
    assert_losses_close(mixed, reference, AMP_RTOL[precision])
    sum(v for k, v in mixed.items() if 'loss' in k).backward()
    assert_finite_gradients(model)
