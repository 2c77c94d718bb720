"""A dataset folder in the wrong layout: each mistake is refused with the
folder or file, what was found and the fix; the user's files stay as they
were."""
import hashlib
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmseg_dsrl.datasets.layout_checks import DatasetLayoutError


def _write(root, names=('f0', 'f1', 'f2'), size=(24, 32), labels=None):
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'val'), exist_ok=True)
    os.makedirs(osp.join(root, 'valannot'), exist_ok=True)
    for name in names:
        cv2.imwrite(osp.join(root, 'val', f'{name}.png'),
                    rng.integers(0, 255, (*size, 3), dtype=np.uint8))
        label = rng.integers(0, 12, size, dtype=np.uint8) if labels is None \
            else labels
        cv2.imwrite(osp.join(root, 'valannot', f'{name}.png'), label)


def _camvid(root, pipeline=()):
    return DATASETS.build(
        dict(type='CamVidDataset', data_root=str(root),
             data_prefix=dict(img_path='val', seg_map_path='valannot'),
             pipeline=list(pipeline)))


def _digests(root):
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            with open(osp.join(folder, f), 'rb') as fh:
                out[osp.join(folder, f)] = hashlib.sha256(fh.read()).digest()
    return out


def test_a_correct_folder_loads(tmp_path):
    _write(tmp_path)
    assert len(_camvid(tmp_path)) == 3


def test_missing_annotation_folder_names_it_and_the_layout(tmp_path):
    _write(tmp_path)
    os.rename(tmp_path / 'valannot', tmp_path / 'labels')
    with pytest.raises(DatasetLayoutError,
                       match=r'annotation folder .*valannot does not exist.*'
                       r'SegNet layout'):
        _camvid(tmp_path)


def test_an_empty_folder_says_no_images(tmp_path):
    os.makedirs(tmp_path / 'val')
    os.makedirs(tmp_path / 'valannot')
    with pytest.raises(DatasetLayoutError,
                       match=r"no images ending in '.png' in .*val"):
        _camvid(tmp_path)


def test_images_without_labels_and_labels_without_images(tmp_path):
    _write(tmp_path)
    os.remove(tmp_path / 'valannot' / 'f1.png')
    with pytest.raises(DatasetLayoutError,
                       match=r'1 \(f1.png\) images in .* have no label map'):
        _camvid(tmp_path)
    _write(tmp_path)
    os.remove(tmp_path / 'val' / 'f2.png')
    with pytest.raises(DatasetLayoutError,
                       match=r'1 \(f2.png\) label maps in .* have no image'):
        _camvid(tmp_path)


def test_colour_coded_labels_are_named_with_the_fix(tmp_path):
    _write(tmp_path, labels=np.full((24, 32), 128, np.uint8))
    before = _digests(tmp_path)
    with pytest.raises(DatasetLayoutError) as error:
        _camvid(tmp_path)
    text = str(error.value)
    assert 'holds values [128]' in text
    assert 'expects class indices 0..10 and [11, 255] (ignored)' in text
    assert 'colour-coded labels' in text
    rgb = np.zeros((24, 32, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'valannot' / 'f0.png'), rgb)
    with pytest.raises(DatasetLayoutError, match='has 3 channels'):
        _camvid(tmp_path)
    assert _digests(tmp_path).keys() == before.keys()


def test_a_bad_file_outside_the_sample_is_caught_on_first_access(tmp_path):
    """The build reads a few label maps; every other file is checked when
    it is first read, before it reaches the loss or the metric."""
    names = [f'f{i:02d}' for i in range(12)]
    _write(tmp_path, names=names)
    ds = _camvid(tmp_path)
    sampled = {osp.basename(ds.get_data_info(i)['seg_map_path'])
               for i in range(0, 12, 4)}
    victim = next(n for n in names if f'{n}.png' not in sampled)
    cv2.imwrite(str(tmp_path / 'valannot' / f'{victim}.png'),
                np.full((24, 32), 40, np.uint8))
    index = names.index(victim)
    with pytest.raises(DatasetLayoutError, match=f'{victim}.png holds values'):
        ds[index]
    ds[(index + 1) % 12]  # the others still load


def test_image_and_label_of_different_sizes(tmp_path):
    _write(tmp_path)
    cv2.imwrite(str(tmp_path / 'valannot' / 'f0.png'),
                np.zeros((12, 16), np.uint8))
    with pytest.raises(DatasetLayoutError,
                       match=r'is 24x32 but its label map .*f0.png is 12x16'):
        _camvid(tmp_path)


def test_the_demo_dataset_is_checked_too(tmp_path):
    from mmseg_dsrl.datasets import write_demo_dataset
    write_demo_dataset(str(tmp_path), num_train=2, num_val=2, height=32,
                       width=64)
    os.remove(tmp_path / 'ann_dir' / 'val' / sorted(
        os.listdir(tmp_path / 'ann_dir' / 'val'))[0])
    with pytest.raises(DatasetLayoutError,
                       match='have no label map.*make_demo_dataset.py'):
        DATASETS.build(
            dict(type='DSRLDemoDataset', data_root=str(tmp_path),
                 data_prefix=dict(img_path='img_dir/val',
                                  seg_map_path='ann_dir/val'),
                 pipeline=[]))
