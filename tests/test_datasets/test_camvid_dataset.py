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


@pytest.fixture
def sequences_root(tmp_path):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'trainannot').mkdir()
    img = np.zeros((8, 8, 3), np.uint8)
    for name in ('0001TP_006690', '0001TP_006720', '0006R0_f00930',
                 '0016E5_00390'):
        cv2.imwrite(str(tmp_path / 'train' / f'{name}.png'), img)
        cv2.imwrite(str(tmp_path / 'trainannot' / f'{name}.png'), img[..., 0])
    return str(tmp_path)


def _train(root, **kwargs):
    return DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=root,
            data_prefix=dict(img_path='train', seg_map_path='trainannot'),
            pipeline=[],
            **kwargs))


def test_sequences_select_whole_video_sequences(sequences_root):
    names = lambda ds: sorted(  # noqa: E731
        osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds)))
    assert len(_train(sequences_root)) == 4
    dev = _train(sequences_root, sequences=['0001TP'])
    assert names(dev) == ['0001TP_006690.png', '0001TP_006720.png']
    rest = _train(sequences_root, sequences=['0006R0', '0016E5'])
    assert names(rest) == ['0006R0_f00930.png', '0016E5_00390.png']


def test_unknown_sequence_names_what_is_there(sequences_root):
    with pytest.raises(ValueError, match=r"\['Seq05VD'\] have no frames.*"
                       r"\['0001TP', '0006R0', '0016E5'\]"):
        _train(sequences_root, sequences=['Seq05VD'])
    with pytest.raises(TypeError, match='list of sequence names'):
        _train(sequences_root, sequences='0001TP')


def test_dev_split_holds_out_a_whole_sequence_of_train(sequences_root):
    """The recipe's --split dev on a CamVid config: training without the
    dev sequence, evaluation on it, both from the train folder."""
    from mmengine.config import Config

    from mmseg_dsrl.analysis.configs import camvid_split_options
    from mmseg_dsrl.analysis.runs import set_data_root
    from dsrl_test_utils import REPO
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'camvid', 'lr-input_bisenetv1_r18-d32-'
                 'w0.5_1xb4-1000i_camvid-180x240.py'))
    cfg.merge_from_dict(camvid_split_options('dev'))
    set_data_root(cfg, sequences_root)
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    dev = DATASETS.build(dict(cfg.val_dataloader.dataset, pipeline=[]))
    seqs = lambda ds: sorted({  # noqa: E731
        CamVidDataset.sequence_of(ds.get_data_info(i)['img_path'])
        for i in range(len(ds))})
    assert seqs(train) == ['0006R0', '0016E5']
    assert seqs(dev) == ['0001TP']
    assert camvid_split_options('val') == {}
    with pytest.raises(ValueError, match="'val' or 'dev'"):
        camvid_split_options('test')
