"""The fused CPU kernel of the FA distance (mmseg_dsrl/ops/csrc) against the
naive N x N reference and the blocked PyTorch path."""
import os
import warnings

import pytest
import torch

import mmseg_dsrl.ops as ops
from mmseg_dsrl.models.functional import (
    affinity_distance,
    fused_affinity_available,
    naive_affinity_distance,
)

# The set-up builds the kernel (tools/setup_env.sh, setup.py); only an
# explicit MMSEG_DSRL_WITH_OPS=0 build may lack it. Skipping silently would
# let a broken build pass CI with the slow path.
BUILT = fused_affinity_available(torch.zeros(1))
requires_kernel = pytest.mark.skipif(
    not BUILT, reason='fused FA kernel not built (MMSEG_DSRL_WITH_OPS=0)')


def test_kernel_is_built_unless_disabled():
    if os.environ.get('MMSEG_DSRL_WITH_OPS', '1') == '0':
        pytest.skip('build disabled by MMSEG_DSRL_WITH_OPS=0')
    if torch.backends.cpu.get_cpu_capability() not in ('AVX2', 'AVX512'):
        pytest.skip('CPU without AVX2: the kernel is not used here')
    assert BUILT, ('mmseg_dsrl/ops/_affinity_l1_cpu is missing or stale: '
                   'run `pip install --no-build-isolation --no-deps -e .`')


def _pair(b, c1, c2, h, w, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(b, c1, h, w, generator=g, dtype=dtype)
    bb = torch.randn(b, c2, h, w, generator=g, dtype=dtype)
    return a.requires_grad_(), bb.requires_grad_()


@requires_kernel
@pytest.mark.parametrize('p', [2.0, None])
@pytest.mark.parametrize(
    'shape',
    [
        (2, 5, 3, 4, 6),  # N = 24: exactly one column tile
        (1, 19, 3, 5, 7),  # N = 35: padded to 48
        (3, 1, 1, 2, 3),  # N = 6 < one tile, single channels
        (2, 11, 3, 9, 13),  # N = 117, CamVid-like channels
    ])
def test_fused_matches_naive_forward_and_grad(p, shape):
    a, b = _pair(*shape)
    fused = affinity_distance(a, b, p=p, q=1, implementation='fused')
    ref = naive_affinity_distance(a, b, p=p, q=1)
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=0)
    weights = torch.arange(1., shape[0] + 1, dtype=a.dtype)
    g_fused = torch.autograd.grad((fused * weights).sum(), (a, b))
    g_ref = torch.autograd.grad((ref * weights).sum(), (a, b))
    for gf, gr in zip(g_fused, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-10, atol=1e-14)


@requires_kernel
def test_fused_float32_matches_naive_and_blocked():
    a, b = _pair(2, 19, 3, 30, 40, dtype=torch.float32, seed=3)
    fused = affinity_distance(a, b, implementation='fused')
    blocked = affinity_distance(a, b, implementation='blocked')
    ref = naive_affinity_distance(a, b)
    assert fused.dtype == torch.float32
    torch.testing.assert_close(fused, ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(fused, blocked, rtol=1e-5, atol=1e-7)
    g_fused = torch.autograd.grad(fused.sum(), (a, b))
    g_ref = torch.autograd.grad(ref.sum(), (a, b))
    for gf, gr in zip(g_fused, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-4, atol=1e-6)


@requires_kernel
def test_fused_gradcheck_float64():
    a, b = _pair(2, 3, 2, 3, 3, seed=1)
    assert torch.autograd.gradcheck(
        lambda x, y: affinity_distance(x, y, implementation='fused'), (a, b))


@requires_kernel
@pytest.mark.parametrize('side', [0, 1])
def test_fused_gradient_into_one_side_only(side):
    # The backward computes only the rows of the side with a gradient.
    pair = list(_pair(2, 4, 3, 5, 5, seed=2))
    pair[1 - side] = pair[1 - side].detach()
    fused = affinity_distance(*pair, implementation='fused')
    ref = naive_affinity_distance(*pair)
    (g_fused, ) = torch.autograd.grad(fused.sum(), pair[side])
    (g_ref, ) = torch.autograd.grad(ref.sum(), pair[side])
    torch.testing.assert_close(g_fused, g_ref, rtol=1e-10, atol=1e-14)


@requires_kernel
def test_fused_does_not_depend_on_thread_count():
    a, b = _pair(2, 6, 3, 12, 16, seed=4)
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            torch.set_num_threads(n)
            out = affinity_distance(a, b, implementation='fused')
            results.append((out, *torch.autograd.grad(out.sum(), (a, b))))
    finally:
        torch.set_num_threads(threads)
    for x, y in zip(*results):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-15)


@requires_kernel
def test_auto_picks_fused_on_cpu():
    a, b = _pair(1, 3, 3, 4, 6, dtype=torch.float32)
    auto = affinity_distance(a, b)
    fused = affinity_distance(a, b, implementation='fused')
    assert torch.equal(auto, fused)  # same code path, bit for bit


def test_fused_refuses_what_it_cannot_compute():
    a, b = _pair(1, 3, 3, 4, 6)
    with pytest.raises(RuntimeError, match='q=2'):
        affinity_distance(a, b, q=2, implementation='fused')
    with pytest.raises(ValueError, match="'tiled'"):
        affinity_distance(a, b, implementation='tiled')
    # float16 is upcast to float32 by affinity_distance before any kernel;
    # the availability check itself never routes float16 to it.
    assert not fused_affinity_available(torch.zeros(1, dtype=torch.float16))


@requires_kernel
def test_kernel_entry_points_check_their_inputs():
    ext = ops.affinity_l1_cpu()
    k_t = torch.zeros(1, 24, 4)
    with pytest.raises(RuntimeError, match='multiple of 24'):
        ext.l1_sum(torch.zeros(1, 25, 4), torch.zeros(1, 4, 25))
    with pytest.raises(RuntimeError, match='do not match'):
        ext.l1_sum(k_t, torch.zeros(1, 5, 24))
    with pytest.raises(RuntimeError, match='Half'):
        ext.sign_product(k_t.half(), torch.zeros(1, 4, 24).half(), 0, 4)
    with pytest.raises(RuntimeError, match='outside'):
        ext.sign_product(k_t, torch.zeros(1, 4, 24), 2, 5)


def test_stale_build_is_refused_with_a_warning(monkeypatch):
    try:
        from mmseg_dsrl.ops import _affinity_l1_cpu  # noqa: F401
    except ImportError:
        pytest.skip('kernel not built')
    monkeypatch.setattr(ops, 'source_sha256', lambda: '0' * 64)
    monkeypatch.setattr(ops, '_CACHE', {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert ops.affinity_l1_cpu() is None
    assert any('stale build' in str(w.message) for w in caught)
