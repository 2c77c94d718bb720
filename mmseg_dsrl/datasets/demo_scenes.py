"""Deterministic synthetic street scenes whose detail low resolution loses.

Each scene has a sky gradient, textured buildings (brick pattern),
vegetation (noise texture), a road with thin lane markings, thin poles
(1-3 px wide) and small signs (3-8 px). At half resolution the poles, the
lane markings and the signs are one pixel or less: exactly the detail DSRL
is meant to recover.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np

CLASSES = ('sky', 'building', 'vegetation', 'road', 'lane_marking', 'pole',
           'sign')
PALETTE = [[70, 130, 180], [70, 70, 70], [107, 142, 35], [128, 64, 128],
           [255, 255, 255], [153, 153, 153], [220, 220, 0]]
SKY, BUILDING, VEGETATION, ROAD, LANE, POLE, SIGN = range(len(CLASSES))


def _noisy(rng: np.random.Generator, shape: Tuple[int, int],
           rgb: Tuple[int, int, int], sigma: float) -> np.ndarray:
    base = np.empty(shape + (3, ), np.float32)
    base[:] = rgb
    return base + rng.normal(0, sigma, shape + (3, )).astype(np.float32)


def render_scene(rng: np.random.Generator,
                 height: int = 256,
                 width: int = 512) -> Tuple[np.ndarray, np.ndarray]:
    """Render one scene.

    Args:
        rng (np.random.Generator): Source of all randomness.
        height (int): Image height.
        width (int): Image width.

    Returns:
        tuple[np.ndarray, np.ndarray]: RGB uint8 image (H, W, 3) and label
        uint8 (H, W) with values in ``range(len(CLASSES))``.
    """
    label = np.full((height, width), SKY, np.uint8)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    image = (
        np.array([90, 150, 220], np.float32) * (1 - rows) +
        np.array([180, 210, 240], np.float32) * rows)
    image = np.repeat(image, width, axis=1)
    horizon = int(height * rng.uniform(0.45, 0.6))

    # Buildings with a brick texture, vegetation with noise texture.
    x = 0
    while x < width:
        w = int(rng.integers(width // 10, width // 4))
        top = int(rng.integers(height // 10, horizon - 10))
        cls = BUILDING if rng.random() < 0.65 else VEGETATION
        region = (slice(top, horizon), slice(x, x + w))
        shape = label[region].shape
        if cls == BUILDING:
            tone = rng.uniform(60, 140)
            tex = _noisy(rng, shape, (tone, tone * 0.9, tone * 0.85), 6)
            yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
            mortar = (yy % 6 == 0) | (((xx + 4 * ((yy // 6) % 2)) % 8) == 0)
            tex[mortar] *= 0.55
        else:
            tex = _noisy(rng, shape, (60, 120, 40), 25)
        image[region] = tex
        label[region] = cls
        x += w

    # Road with thin lane markings converging to the horizon.
    road = (slice(horizon, height), slice(0, width))
    image[road] = _noisy(rng, label[road].shape, (110, 100, 110), 8)
    label[road] = ROAD
    for _ in range(int(rng.integers(3, 7))):
        x0 = int(rng.integers(0, width))
        x1 = int(width / 2 + (x0 - width / 2) * 0.2)
        thickness = int(rng.integers(1, 3))
        mask = np.zeros_like(label)
        cv2.line(mask, (x0, height - 1), (x1, horizon), 1, thickness)
        image[mask == 1] = (235, 235, 235)
        label[mask == 1] = LANE

    # Thin poles (1-3 px) with small signs on some of them.
    for _ in range(int(rng.integers(6, 14))):
        px = int(rng.integers(0, width - 3))
        pw = int(rng.integers(1, 4))
        top = int(rng.integers(height // 8, horizon - 5))
        bottom = int(rng.integers(horizon, height))
        image[top:bottom, px:px + pw] = (150, 150, 150)
        label[top:bottom, px:px + pw] = POLE
        if rng.random() < 0.6:
            s = int(rng.integers(3, 9))
            sy, sx = top, max(0, px - s // 2)
            image[sy:sy + s, sx:sx + s] = (230, 210, 20)
            label[sy:sy + s, sx:sx + s] = SIGN

    # Scattered small signs in the scene.
    for _ in range(int(rng.integers(6, 14))):
        s = int(rng.integers(3, 7))
        sy = int(rng.integers(0, height - s))
        sx = int(rng.integers(0, width - s))
        image[sy:sy + s, sx:sx + s] = (230, 210, 20)
        label[sy:sy + s, sx:sx + s] = SIGN

    image = np.clip(image, 0, 255).astype(np.uint8)
    return image, label


def write_demo_dataset(root: str,
                       num_train: int = 60,
                       num_val: int = 20,
                       height: int = 256,
                       width: int = 512,
                       seed: int = 0) -> Dict[str, int]:
    """Write the demo dataset in mmseg's folder layout.

    ``root/img_dir/{train,val}/*.png`` (BGR on disk, as cv2 writes) and
    ``root/ann_dir/{train,val}/*.png`` (uint8 class indices). The same
    ``seed`` always writes the same files.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Number of training scenes.
        num_val (int): Number of validation scenes.
        height (int): Image height.
        width (int): Image width.
        seed (int): Seed of the generator.

    Returns:
        dict[str, int]: Number of images written per split.
    """
    for name, value in (('num_train', num_train), ('num_val', num_val),
                        ('height', height), ('width', width)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    if height < 32 or width < 32:
        raise ValueError(f'scenes need at least 32x32 pixels, got '
                         f'{height}x{width}')
    counts = {}
    for split, count, offset in (('train', num_train, 0), ('val', num_val,
                                                           1_000_000)):
        img_dir = osp.join(root, 'img_dir', split)
        ann_dir = osp.join(root, 'ann_dir', split)
        for folder in (img_dir, ann_dir):
            os.makedirs(folder, exist_ok=True)
        for i in range(count):
            rng = np.random.default_rng([seed, offset + i])
            image, label = render_scene(rng, height, width)
            name = f'{split}_{i:04d}.png'
            cv2.imwrite(osp.join(img_dir, name), image[:, :, ::-1])
            cv2.imwrite(osp.join(ann_dir, name), label)
        counts[split] = count
    return counts
