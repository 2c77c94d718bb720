import pytest
import torch

from mmseg_dsrl.models.functional import (
    affinity_distance,
    feature_affinity,
    naive_affinity_distance,
)


def _pair(b=2, c1=5, c2=3, h=4, w=6, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(b, c1, h, w, generator=g, dtype=dtype)
    bb = torch.randn(b, c2, h, w, generator=g, dtype=dtype)
    return a.requires_grad_(), bb.requires_grad_()


def test_feature_affinity_hand_computed_2x2():
    # Positions (1,0), (0,1), (1,1), (2,0) -> cosines by hand.
    feat = torch.tensor([[1., 0., 1., 2.], [0., 1., 1., 0.]]).view(1, 2, 2, 2)
    s = feature_affinity(feat)[0]
    r = 2**-0.5
    expected = torch.tensor([[1, 0, r, 1], [0, 1, r, 0], [r, r, 1, r],
                             [1, 0, r, 1]])
    torch.testing.assert_close(s, expected)


def test_feature_affinity_symmetric_unit_diagonal():
    a, _ = _pair()
    s = feature_affinity(a)
    assert s.shape == (2, 24, 24)
    torch.testing.assert_close(s, s.transpose(1, 2))
    torch.testing.assert_close(
        s.diagonal(dim1=1, dim2=2), torch.ones(2, 24, dtype=s.dtype))


@pytest.mark.parametrize('p', [2.0, None])
@pytest.mark.parametrize('q', [1, 2])
@pytest.mark.parametrize('block_size', [None, 1, 5, 7, 24, 1000])
def test_blocked_matches_naive_forward_and_grad(p, q, block_size):
    a, b = _pair()
    fast = affinity_distance(
        a, b, p=p, q=q, block_size=block_size, implementation='blocked')
    ref = naive_affinity_distance(a, b, p=p, q=q)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=0)
    g_fast = torch.autograd.grad(fast.sum() * 3, (a, b))
    g_ref = torch.autograd.grad(ref.sum() * 3, (a, b))
    for gf, gr in zip(g_fast, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize('q', [1, 2])
def test_float32_matches_naive_to_1e5(q):
    a, b = _pair(c1=16, c2=3, h=9, w=11, dtype=torch.float32, seed=3)
    fast = affinity_distance(
        a, b, q=q, block_size=13, implementation='blocked')
    ref = naive_affinity_distance(a, b, q=q)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-7)
    g_fast = torch.autograd.grad(fast.sum(), (a, b))
    g_ref = torch.autograd.grad(ref.sum(), (a, b))
    for gf, gr in zip(g_fast, g_ref):
        torch.testing.assert_close(gf, gr, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('q', [1, 2])
def test_gradcheck_float64(q):
    a, b = _pair(b=2, c1=3, c2=2, h=3, w=3, seed=1)
    assert torch.autograd.gradcheck(
        lambda x, y: affinity_distance(
            x, y, q=q, block_size=4, implementation='blocked'), (a, b))


@pytest.mark.parametrize('q', [1, 2])
def test_float16_inputs_accumulate_in_float32(q):
    # N = 2700 (one CamVid 1/8 map): a float16 sum over one 256 x N block
    # of |S^a - S^b| is far above float16's 65504.
    a, b = _pair(b=1, c1=11, c2=3, h=45, w=60, dtype=torch.float32, seed=4)
    ref = naive_affinity_distance(
        a.detach().double(), b.detach().double(), q=q)
    half_a = a.detach().half().requires_grad_()
    half_b = b.detach().half().requires_grad_()
    out = affinity_distance(half_a, half_b, q=q)
    assert out.dtype == torch.float32
    # Only the float16 rounding of the inputs separates the two.
    torch.testing.assert_close(out.double(), ref, rtol=2e-3, atol=0)
    out.sum().backward()
    assert half_a.grad.dtype == torch.float16
    assert torch.isfinite(half_a.grad).all() and half_a.grad.abs().sum() > 0


def test_autocast_region_computes_in_float32():
    a, b = _pair(c1=7, c2=3, h=12, w=10, dtype=torch.float32, seed=5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = affinity_distance(a, b, block_size=16)
    assert out.dtype == torch.float32
    torch.testing.assert_close(
        out, naive_affinity_distance(a, b), rtol=1e-5, atol=1e-7)


def test_identical_maps_have_zero_distance_and_scaling_invariance():
    a, _ = _pair()
    assert affinity_distance(a, a).abs().max() < 1e-12
    # Per-position normalisation: positive rescaling changes nothing.
    scale = torch.rand(2, 1, 4, 6, dtype=a.dtype) + 0.5
    torch.testing.assert_close(
        affinity_distance(a * scale,
                          a.detach() * 2),
        torch.zeros(2, dtype=a.dtype),
        atol=1e-12,
        rtol=0)


def test_per_sample_output_depends_only_on_its_sample():
    a, b = _pair()
    full = affinity_distance(a, b)
    single = affinity_distance(a[1:], b[1:])
    torch.testing.assert_close(full[1:], single)


def test_spatial_mismatch_raises():
    a = torch.randn(1, 3, 4, 4)
    b = torch.randn(1, 3, 4, 5)
    with pytest.raises(
            ValueError, match=r'same spatial size.*\(4, 4\).*\(4, 5\)'):
        affinity_distance(a, b)


@pytest.mark.parametrize('bad', [torch.randn(3, 4, 4), torch.randn(1, 3, 16)])
def test_non_4d_raises(bad):
    with pytest.raises(ValueError, match='expects two'):
        affinity_distance(bad, bad)


def test_unsupported_q_raises():
    a, b = _pair()
    with pytest.raises(ValueError, match=r'q must be 1 or 2 .*got 3'):
        affinity_distance(a, b, q=3)


def test_unnormalised_affinity_is_the_plain_dot_product():
    a, _ = _pair()
    flat = a.flatten(2)
    torch.testing.assert_close(
        feature_affinity(a, p=None), flat.transpose(1, 2) @ flat)


def test_automatic_block_size_bounds():
    from mmseg_dsrl.models.functional import auto_block_size
    assert auto_block_size(2, 32768) == 64
    assert auto_block_size(4, 2700) == 64
    assert auto_block_size(1, 10) == 10  # never more rows than positions
    # GPU: as many rows as fit a 512 MiB (batch, rows, N) block.
    assert auto_block_size(2, 32768, 4, 'cuda') == 2048
    assert auto_block_size(1, 1000, 4, 'cuda') == 1000
    assert auto_block_size(64, 2**20, 4, 'cuda') == 64  # at least 64


@pytest.mark.parametrize('in_hw, size, k, corners', [
    ((90, 120), (360, 480), 8, False),
    ((23, 30), (360, 480), 8, False),
    ((7, 9), (50, 70), 8, True),  # ceil-mode partial windows
    ((92, 120), (368, 480), 16, False),
])
def test_resize_then_avg_pool_is_the_composition(in_hw, size, k, corners):
    import torch.nn.functional as F

    from mmseg_dsrl.models.functional import resize_then_avg_pool
    x = torch.randn(2, 5, *in_hw, dtype=torch.float64, requires_grad=True)
    ref = F.avg_pool2d(
        F.interpolate(x, size, mode='bilinear', align_corners=corners), k,
        k, ceil_mode=True)
    out = resize_then_avg_pool(x, size, k, corners)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    g = torch.randn_like(ref)
    torch.testing.assert_close(
        torch.autograd.grad(out, x, g)[0],
        torch.autograd.grad(ref, x, g)[0],
        rtol=0,
        atol=1e-12)
