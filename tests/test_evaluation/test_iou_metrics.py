"""Per-class and boundary (trimap) IoU against brute-force references."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmseg_dsrl.evaluation import (
    BoundaryIoUMetric,
    PerClassIoUMetric,
    boundary_band,
)


def brute_force_band(label, width, ignore):
    h, w = label.shape
    band = torch.zeros(h, w, dtype=torch.bool)
    for i in range(h):
        for j in range(w):
            if label[i, j] == ignore:
                continue
            for di in range(-width, width + 1):
                for dj in range(-width, width + 1):
                    y, x = i + di, j + dj
                    if (0 <= y < h and 0 <= x < w and label[y, x] != ignore
                            and label[y, x] != label[i, j]):
                        band[i, j] = True
    return band


@pytest.mark.parametrize('width', [1, 2, 3])
@pytest.mark.parametrize('seed', [0, 1])
def test_band_matches_brute_force(width, seed):
    g = torch.Generator().manual_seed(seed)
    # Blocky labels (boundaries with room between them) plus ignored pixels.
    label = torch.randint(0, 4, (4, 5), generator=g).repeat_interleave(
        3, 0).repeat_interleave(3, 1)
    label[torch.rand(label.shape, generator=g) < 0.1] = 255
    assert torch.equal(
        boundary_band(label, width), brute_force_band(label, width, 255))


def test_band_of_a_straight_edge():
    label = torch.zeros(6, 8, dtype=torch.long)
    label[:, 4:] = 1
    band = boundary_band(label, 2)
    assert band[:, 2:6].all() and not band[:, :2].any()
    assert not band[:, 6:].any()


@pytest.mark.parametrize('width', [0, -1, 1.5])
def test_bad_width_fails(width):
    with pytest.raises(ValueError, match='width must be an int >= 1'):
        boundary_band(torch.zeros(3, 3, dtype=torch.long), width)
    with pytest.raises(ValueError, match='width must be an int >= 1'):
        BoundaryIoUMetric(width=width)


def sample(pred, label):
    s = SegDataSample()
    s.pred_sem_seg = PixelData(data=pred[None])
    s.gt_sem_seg = PixelData(data=label[None])
    return s.to_dict()


def run(metric, pairs, classes=('a', 'b', 'c')):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, [sample(p, l) for p, l in pairs])
    return metric.evaluate(len(pairs))


def test_per_class_iou_is_intersection_over_union():
    label = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1], [2, 2, 0, 1]])
    out = run(PerClassIoUMetric(), [(pred, label)])
    # a: 3 / 5, b: 4 / 5, c: 2 / 3 (the ignored pixel does not count).
    assert out['IoU.a'] == pytest.approx(60.0)
    assert out['IoU.b'] == pytest.approx(80.0)
    assert out['IoU.c'] == pytest.approx(66.67)
    assert out['mIoU'] == pytest.approx((60 + 80 + 66.67) / 3, abs=0.01)


def test_boundary_iou_only_counts_pixels_near_label_edges():
    label = torch.zeros(8, 8, dtype=torch.long)
    label[:, 4:] = 1
    pred = label.clone()
    pred[:, 0] = 1  # wrong, but 4 px from the edge: outside a 1-px band
    pred[0, 3] = 1  # wrong and on the edge
    out = run(BoundaryIoUMetric(width=1), [(pred, label)], classes=('a',
                                                                   'b'))
    # Band: columns 3 and 4. a: 7 / 8 (row 0 col 3 lost), b: 8 / 9.
    assert out['boundary1/IoU.a'] == pytest.approx(87.5)
    assert out['boundary1/IoU.b'] == pytest.approx(88.89)
    whole = run(PerClassIoUMetric(), [(pred, label)], classes=('a', 'b'))
    assert whole['IoU.a'] < out['boundary1/IoU.a']  # column 0 counts there
