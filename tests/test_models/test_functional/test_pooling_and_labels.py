import pytest
import torch
import torch.nn.functional as F

from mmseg_dsrl.models.functional import (
    adaptive_avg_pool2d_matmul,
    adaptive_pool_matrix,
    downsample_label,
)


@pytest.mark.parametrize('size, out', [((32, 64), (3, 3)), ((7, 11), (6, 6)),
                                       ((5, 5), (1, 1)), ((32, 64), (6, 6)),
                                       ((4, 4), (6, 6))])
def test_matmul_pooling_equals_adaptive_pooling(size, out):
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    torch.testing.assert_close(
        adaptive_avg_pool2d_matmul(x, out), F.adaptive_avg_pool2d(x, out))


def test_pool_matrix_rows_average_overlapping_windows():
    m = adaptive_pool_matrix(5, 3)
    # windows [0,2), [1,4), [3,5)
    expected = torch.tensor([[.5, .5, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3, 0],
                             [0, 0, 0, .5, .5]])
    torch.testing.assert_close(m, expected)


def test_downsample_label_is_nearest_and_keeps_ignore():
    label = torch.randint(0, 4, (2, 1, 16, 24))
    label[:, :, :5] = 255
    small = downsample_label(label, (8, 12))
    torch.testing.assert_close(small, label[:, :, ::2, ::2])
    assert set(small.unique().tolist()) <= set(label.unique().tolist())
    assert (small[:, :, :2] == 255).all()
    assert small.dtype == label.dtype


def test_downsample_label_rejects_bad_shape():
    with pytest.raises(ValueError, match=r'\(B, 1, H, W\).*\(2, 16, 24\)'):
        downsample_label(torch.zeros(2, 16, 24, dtype=torch.long), (8, 12))
