import os
import os.path as osp

import numpy as np
import pytest

from mmseg_dsrl.datasets import render_scene, write_demo_dataset
from mmseg_dsrl.datasets.demo_scenes import CLASSES, LANE, POLE, SIGN


def test_same_seed_same_files_other_seed_different(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    for root, seed in ((a, 0), (b, 0), (c, 1)):
        write_demo_dataset(
            root, num_train=2, num_val=1, height=64, width=128, seed=seed)
    f = osp.join('img_dir', 'train', 'train_0001.png')
    read = lambda r: open(osp.join(r, f), 'rb').read()  # noqa: E731
    assert read(a) == read(b)
    assert read(a) != read(c)
    assert sorted(os.listdir(osp.join(a, 'ann_dir',
                                      'val'))) == ['val_0000.png']


def test_scenes_have_thin_structures_lost_at_half_resolution():
    image, label = render_scene(np.random.default_rng(0), 256, 512)
    assert image.shape == (256, 512, 3) and label.shape == (256, 512)
    assert label.max() < len(CLASSES)
    for cls in (LANE, POLE, SIGN):
        assert (label == cls).any(), CLASSES[cls]
    # Poles are at most 3 px wide: some row has a pole run of <= 3 pixels.
    rows = np.where((label == POLE).any(axis=1))[0]
    runs = [(label[r] == POLE).sum() for r in rows]
    assert min(runs) <= 3


def test_dataset_registered_and_loads(demo_data_root):
    from mmseg.registry import DATASETS
    ds = DATASETS.build(
        dict(
            type='DSRLDemoDataset',
            data_root=demo_data_root,
            data_prefix=dict(
                img_path='img_dir/val', seg_map_path='ann_dir/val'),
            pipeline=[]))
    assert len(ds) == 4
    assert ds.metainfo['classes'] == CLASSES


@pytest.mark.parametrize('kw', [dict(num_train=0), dict(height=16)])
def test_bad_sizes_raise(tmp_path, kw):
    with pytest.raises(ValueError):
        write_demo_dataset(str(tmp_path), **kw)
