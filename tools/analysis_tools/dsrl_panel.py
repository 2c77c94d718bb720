"""A picture of what DSRL predicts: frames side by side with its masks.

One row per image: the input as the low-resolution network sees it (its
``input_scale`` applied, shown at the frame's size), the mask of every
``--model`` (in the dataset's palette), the ground truth (with
``--ann-dir``; void in black) and, with ``--sisr LABEL``, that DSRL model's
SISR reconstruction of the high-resolution frame. Any mmseg config and
checkpoint works (DSRL, its LR baseline, a full-resolution model, stock
mmseg); the models are loaded with ``mmseg.apis.init_model``.

Example (CamVid, checkpoints of the recipe's runs):
    python tools/analysis_tools/dsrl_panel.py \\
        --images ../shared/datasets/camvid/val/0016E5_07959.png \\
        --ann-dir ../shared/datasets/camvid/valannot \\
        --model 'LR baseline' LR_CONFIG LR_CKPT \\
        --model DSRL DSRL_CONFIG DSRL_CKPT --model 'full resolution' C CK \\
        --sisr DSRL --out docs/images/camvid_panel.png
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', nargs='+', required=True,
                        help='frames, one row each')
    parser.add_argument('--ann-dir', default=None,
                        help='folder of label maps named as the frames')
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--sisr', default=None, metavar='LABEL',
                        help='show this DSRL model\'s SISR reconstruction')
    parser.add_argument('--tile-width', type=int, default=240,
                        help='width of each tile in pixels')
    parser.add_argument('--data-root', default=None,
                        help='replace the configs\' data_root (for their '
                        'dataset metadata only)')
    parser.add_argument('--out', required=True, help='PNG to write')
    args = parser.parse_args(argv)
    labels = [m[0] for m in args.model]
    if args.sisr is not None and args.sisr not in labels:
        parser.error(f'--sisr {args.sisr!r} is none of the --model labels '
                     f'{labels}')
    if args.tile_width < 32:
        parser.error(f'--tile-width must be >= 32, got {args.tile_width}')
    return args


def colourise(labels: np.ndarray, palette: Sequence[Sequence[int]]
              ) -> np.ndarray:
    """RGB image of a label map (values outside the palette: black)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    return lut[labels.astype(np.uint8)]


def as_seen_at(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` (RGB) downsampled by ``scale`` as a network input is
    (area-averaged), shown back at its size (nearest: the pixels the
    network sees)."""
    if scale >= 1:
        return image
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * scale)),
                               max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def tile(image: np.ndarray, width: int, title: str) -> np.ndarray:
    """``image`` resized to ``width`` with ``title`` in a bar above it."""
    h, w = image.shape[:2]
    height = round(h * width / w)
    body = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
    bar = np.full((18, width, 3), 255, np.uint8)
    cv2.putText(bar, title[:width // 7], (3, 13), cv2.FONT_HERSHEY_SIMPLEX,
                0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, body], 0)


def panel(rows: List[List[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Tiles (equal sizes) in a grid with white gaps."""
    height, width = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (height + gap) - gap,
                   cols * (width + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, t in enumerate(row):
            y, x = i * (height + gap), j * (width + gap)
            out[y:y + height, x:x + width] = t
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    import warnings
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    sys.path.insert(0, REPO)
    import mmseg_dsrl  # noqa: F401
    from mmengine.config import Config
    from mmseg.apis import inference_model, init_model
    models = []
    for label, config, checkpoint in args.model:
        cfg = Config.fromfile(config)
        cfg.load_from = None
        if args.data_root is not None:
            cfg.test_dataloader.dataset.data_root = args.data_root
        model = init_model(cfg, checkpoint, device='cpu')
        if label == args.sisr:
            if getattr(model, 'sisr_head', None) is None:
                raise SystemExit(f'--sisr {label!r}: {config} has no '
                                 'sisr_head (not a DSRL model)')
            model.test_cfg['output_sisr'] = True
        models.append((label, model))
    palette = models[0][1].dataset_meta['palette']
    scale = min(float(getattr(m, 'input_scale', 1.0)) for _, m in models)
    rows = []
    for path in args.images:
        bgr = cv2.imread(path)
        if bgr is None:
            raise SystemExit(f'cannot read the image {path}')
        rgb = bgr[..., ::-1].copy()
        row = [tile(as_seen_at(rgb, scale), args.tile_width,
                    f'input at x{scale:g}')]
        sr: Optional[np.ndarray] = None
        for label, model in models:
            result = inference_model(model, path)
            mask = result.pred_sem_seg.data[0].cpu().numpy()
            row.append(tile(colourise(mask, palette), args.tile_width, label))
            if label == args.sisr:
                sr = result.sr_image.data.permute(1, 2, 0).cpu().numpy()
        if args.ann_dir is not None:
            gt = cv2.imread(osp.join(args.ann_dir, osp.basename(path)),
                            cv2.IMREAD_UNCHANGED)
            if gt is None:
                raise SystemExit(f'no label map for {path} in {args.ann_dir}')
            row.append(tile(colourise(gt, palette), args.tile_width,
                            'ground truth'))
        if sr is not None:
            row.append(tile(sr.round().astype(np.uint8), args.tile_width,
                            f'{args.sisr} SISR'))
        rows.append(row)
    image = panel(rows)
    if not cv2.imwrite(args.out, image[..., ::-1],
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f'cannot write {args.out}')
    print(f'{args.out}: {len(rows)} rows x {len(rows[0])} tiles, '
          f'{image.shape[1]}x{image.shape[0]} px')
    return 0


if __name__ == '__main__':
    sys.exit(main())
