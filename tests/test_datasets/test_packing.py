"""A SegNet-layout dataset packed as JPEG + label PNGs and unpacked back:
labels byte for byte, images within JPEG's error, bad input refused."""
import io
import os
import tarfile

import cv2
import numpy as np
import pytest

from mmseg_dsrl.datasets.packing import (pack_segnet_folder,
                                         unpack_segnet_archive)


def _write_segnet(root, h=48, w=64):
    rng = np.random.default_rng(0)
    for img_dir, ann_dir, n in (('train', 'trainannot', 3),
                                ('val', 'valannot', 2)):
        os.makedirs(root / img_dir)
        os.makedirs(root / ann_dir)
        for i in range(n):
            # smooth content, as photographs are (noise is JPEG's worst case)
            img = cv2.GaussianBlur(
                rng.integers(0, 255, (h, w, 3)).astype(np.float32), (0, 0),
                3)
            img = np.clip((img - img.mean()) * 4 + 128, 0, 255).astype(
                np.uint8)
            label = rng.integers(0, 12, (h, w), dtype=np.uint8)
            cv2.imwrite(str(root / img_dir / f'seq_{i:03d}.png'), img)
            cv2.imwrite(str(root / ann_dir / f'seq_{i:03d}.png'), label)


def test_round_trip_keeps_labels_and_images(tmp_path):
    src = tmp_path / 'src'
    _write_segnet(src)
    archive = str(tmp_path / 'pack.tar')
    manifest = pack_segnet_folder(str(src), archive, quality=95)
    assert {s: m['images'] for s, m in manifest['splits'].items()} == {
        'train': 3, 'val': 2}
    dst = tmp_path / 'dst'
    unpack_segnet_archive(archive, str(dst))
    for img_dir, ann_dir in (('train', 'trainannot'), ('val', 'valannot')):
        names = sorted(os.listdir(src / img_dir))
        assert sorted(os.listdir(dst / img_dir)) == names
        for name in names:
            assert (dst / ann_dir / name).read_bytes() == (
                src / ann_dir / name).read_bytes()
            a = cv2.imread(str(src / img_dir / name)).astype(np.float64)
            b = cv2.imread(str(dst / img_dir / name)).astype(np.float64)
            assert a.shape == b.shape
            psnr = 10 * np.log10(255**2 / max(np.mean((a - b)**2), 1e-12))
            assert psnr > 30
    # the manifest's PSNR is of the same decoded images
    assert manifest['splits']['val']['min_psnr_db'] > 30


def test_refuses_to_overwrite(tmp_path):
    src = tmp_path / 'src'
    _write_segnet(src)
    archive = tmp_path / 'pack.tar'
    archive.write_bytes(b'mine')
    with pytest.raises(FileExistsError, match='pack.tar exists'):
        pack_segnet_folder(str(src), str(archive))
    assert archive.read_bytes() == b'mine'
    os.remove(archive)
    pack_segnet_folder(str(src), str(archive))
    with pytest.raises(FileExistsError, match='not empty'):
        unpack_segnet_archive(str(archive), str(src))


def test_names_what_is_missing(tmp_path):
    src = tmp_path / 'src'
    _write_segnet(src)
    os.remove(src / 'valannot' / 'seq_001.png')
    with pytest.raises(FileNotFoundError, match='seq_001.png has no label'):
        pack_segnet_folder(str(src), str(tmp_path / 'a.tar'))
    with pytest.raises(FileNotFoundError, match='SegNet layout'):
        pack_segnet_folder(str(tmp_path / 'nothing'), str(tmp_path / 'b.tar'))
    with pytest.raises(ValueError, match='quality must be in 1-100'):
        pack_segnet_folder(str(src), str(tmp_path / 'c.tar'), quality=0)


def test_refuses_a_tampered_archive(tmp_path):
    src = tmp_path / 'src'
    _write_segnet(src)
    archive = tmp_path / 'pack.tar'
    pack_segnet_folder(str(src), str(archive))
    # rewrite one label map inside the tar
    tampered = tmp_path / 'tampered.tar'
    with tarfile.open(archive) as a, tarfile.open(tampered, 'w') as b:
        for member in a.getmembers():
            data = a.extractfile(member).read()
            if member.name == 'valannot/seq_000.png':
                data = data[:-1] + bytes([data[-1] ^ 1])
            member.size = len(data)
            b.addfile(member, io.BytesIO(data))
    with pytest.raises(ValueError, match='label map of seq_000.png'):
        unpack_segnet_archive(str(tampered), str(tmp_path / 'dst'))
