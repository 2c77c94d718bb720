"""A SegNet-layout dataset (CamVid) packed small enough to travel.

:func:`pack_segnet_folder` writes one uncompressed tar: the images as JPEG
(they are most of the bytes), the label maps as they are (PNG, lossless),
and ``manifest.json`` (the source's split folders, the JPEG quality, the
mean and lowest PSNR of the decoded images against the source, and each
file's SHA-256). :func:`unpack_segnet_archive` writes the SegNet layout
back: every image decoded and stored as PNG under its source name, so that
the dataset configs read it unchanged, and the label maps byte for byte,
each checked against the manifest. A run on the unpacked folder trains on
the JPEG-decoded images: the same data for every row of that run.
"""
import hashlib
import io
import json
import os
import os.path as osp
import tarfile
from typing import Dict, Sequence

import cv2
import numpy as np
import torch

from ..evaluation.metrics.sisr_quality_metric import psnr

#: The SegNet layout's image folders and their label folders.
SEGNET_SPLITS = (('train', 'trainannot'), ('val', 'valannot'))
MANIFEST = 'manifest.json'


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(psnr(torch.from_numpy(a), torch.from_numpy(b)))


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def pack_segnet_folder(src: str,
                       archive: str,
                       quality: int = 95,
                       splits: Sequence = SEGNET_SPLITS) -> Dict:
    """Pack ``src`` (``train/``, ``trainannot/``, ``val/``, ``valannot/``)
    into the tar ``archive``.

    Args:
        src (str): The dataset root.
        archive (str): The tar to write; must not exist.
        quality (int): JPEG quality of the images, 1-100. Default 95.
        splits (Sequence): (image folder, label folder) pairs.

    Returns:
        dict: The manifest written into the archive.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f'JPEG quality must be in 1-100, got {quality}')
    if osp.exists(archive):
        raise FileExistsError(f'{archive} exists; pack into a new file')
    manifest = dict(quality=quality, splits={})
    os.makedirs(osp.dirname(osp.abspath(archive)), exist_ok=True)
    with tarfile.open(archive, 'w') as tar:
        for img_dir, ann_dir in splits:
            folders = [osp.join(src, d) for d in (img_dir, ann_dir)]
            missing = [f for f in folders if not osp.isdir(f)]
            if missing:
                raise FileNotFoundError(
                    f'{missing} not found: {src} is not in the SegNet layout '
                    f'({img_dir}/ with the images, {ann_dir}/ with label '
                    'maps of the same names)')
            names = sorted(n for n in os.listdir(folders[0])
                           if n.lower().endswith('.png'))
            if not names:
                raise FileNotFoundError(f'no PNG images in {folders[0]}')
            psnrs, files = [], {}
            for name in names:
                label_path = osp.join(folders[1], name)
                if not osp.isfile(label_path):
                    raise FileNotFoundError(
                        f'{osp.join(folders[0], name)} has no label map '
                        f'{label_path}')
                image = cv2.imread(osp.join(folders[0], name),
                                   cv2.IMREAD_COLOR)
                if image is None:
                    raise ValueError(
                        f'{osp.join(folders[0], name)} is not an image')
                ok, jpeg = cv2.imencode(
                    '.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, quality])
                assert ok
                jpeg = jpeg.tobytes()
                psnrs.append(
                    _psnr(image, cv2.imdecode(
                        np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)))
                with open(label_path, 'rb') as f:
                    label = f.read()
                stem = osp.splitext(name)[0]
                _add(tar, f'{img_dir}/{stem}.jpg', jpeg)
                _add(tar, f'{ann_dir}/{name}', label)
                files[name] = dict(jpeg_sha256=_sha256(jpeg),
                                   label_sha256=_sha256(label))
            manifest['splits'][img_dir] = dict(
                labels=ann_dir,
                images=len(names),
                mean_psnr_db=float(np.mean(psnrs)),
                min_psnr_db=float(np.min(psnrs)),
                files=files)
        _add(tar, MANIFEST,
             json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest


def unpack_segnet_archive(archive: str, dst: str) -> Dict:
    """Write the SegNet layout of ``archive`` into ``dst`` (images as PNG).

    Args:
        archive (str): A tar written by :func:`pack_segnet_folder`.
        dst (str): The dataset root to write; must not exist or be empty.

    Returns:
        dict: The archive's manifest.
    """
    if osp.isdir(dst) and os.listdir(dst):
        raise FileExistsError(f'{dst} is not empty; unpack into a new folder')
    with tarfile.open(archive, 'r') as tar:
        try:
            manifest = json.load(tar.extractfile(MANIFEST))
        except KeyError:
            raise ValueError(f'{archive} has no {MANIFEST}: not written by '
                             'pack_segnet_folder') from None
        for img_dir, split in manifest['splits'].items():
            ann_dir = split['labels']
            for d in (img_dir, ann_dir):
                os.makedirs(osp.join(dst, d), exist_ok=True)
            for name, sums in split['files'].items():
                stem = osp.splitext(name)[0]
                jpeg = tar.extractfile(f'{img_dir}/{stem}.jpg').read()
                label = tar.extractfile(f'{ann_dir}/{name}').read()
                for what, data, key in (('image', jpeg, 'jpeg_sha256'),
                                        ('label map', label, 'label_sha256')):
                    if _sha256(data) != sums[key]:
                        raise ValueError(f'{archive}: the {what} of {name} '
                                         'does not match its manifest entry')
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8),
                                     cv2.IMREAD_COLOR)
                cv2.imwrite(osp.join(dst, img_dir, name), image)
                with open(osp.join(dst, ann_dir, name), 'wb') as f:
                    f.write(label)
    return manifest
