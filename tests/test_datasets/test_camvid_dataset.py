"""CamVid: void (11) is ignored everywhere; the user's files stay intact."""
import hashlib
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS

from mmseg_dsrl.datasets import CAMVID_VOID, CamVidDataset


@pytest.fixture
def camvid_root(tmp_path):
    rng = np.random.default_rng(0)
    for split in ('val', 'valannot'):
        (tmp_path / split).mkdir()
    for i in range(2):
        img = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        label = rng.integers(0, 11, (24, 32), dtype=np.uint8)
        label[:6] = CAMVID_VOID  # a void band on top
        cv2.imwrite(str(tmp_path / 'val' / f'f{i}.png'), img)
        cv2.imwrite(str(tmp_path / 'valannot' / f'f{i}.png'), label)
    return str(tmp_path)


def _digest(root):
    with open(osp.join(root, 'valannot', 'f0.png'), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _dataset(root):
    return DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=root,
            data_prefix=dict(img_path='val', seg_map_path='valannot'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ]))


def test_void_is_loaded_as_ignore_and_files_unchanged(camvid_root):
    before = _digest(camvid_root)
    ds = _dataset(camvid_root)
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 11
    gt = ds[0]['data_samples'].gt_sem_seg.data
    assert (gt[:, :6] == 255).all()
    assert gt[:, 6:].max() <= 10
    assert _digest(camvid_root) == before


def test_void_pixels_never_count_in_miou(camvid_root):
    ds = _dataset(camvid_root)
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = ds.metainfo
    for i in range(len(ds)):
        gt = ds[i]['data_samples'].gt_sem_seg.data
        pred = gt.clone()
        pred[pred == 255] = 0  # wrong everywhere on void
        metric.process(
            [], [dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))])
    result = metric.compute_metrics(metric.results)
    assert result['mIoU'] == pytest.approx(100.0)


def test_class_subset_keeps_void_ignored(camvid_root):
    label_map = CamVidDataset.get_label_map(('road', 'car'))
    assert label_map[CAMVID_VOID] == 255
    assert label_map[3] == 0 and label_map[8] == 1 and label_map[0] == 255
