"""Convert an EdgeNets ESPNetv2 segmentation checkpoint to an mmseg one.

    python tools/model_converters/edgenets2mmseg.py SRC DST [--classes camvid]

SRC is a ``state_dict`` of EdgeNets' ``ESPNetv2Segmentation`` (its
``model_zoo`` files, e.g. ``espnetv2_s_2.0_city_512x256.pth``); DST is an
mmengine checkpoint (``state_dict`` + ``meta`` with the source's sha256) for
the ``ESPNetV2`` backbone + ``ESPNetV2Head`` configs of ``configs/espnetv2``.
Every source key is mapped and the result is loaded, strictly, into the
model it describes before anything is written; an existing DST is kept
unless ``--overwrite``.

``--classes camvid`` starts the classifier's 11 CamVid rows from the mapped
Cityscapes rows (the ``edgenets-camvid://`` prefix does the same on load).
Configs can also load SRC directly: ``load_from = 'edgenets://SRC'``.
"""
import argparse
import os
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmseg_dsrl.model_converters import (  # noqa: E402
    CAMVID_FROM_CITYSCAPES, load_edgenets_checkpoint, map_classifier_rows)
from mmseg_dsrl.model_converters.edgenets import (  # noqa: E402
    check_loads_into_espnetv2)

_CLASS_ROWS = {
    'cityscapes': None,
    'camvid': lambda sd: map_classifier_rows(sd, CAMVID_FROM_CITYSCAPES),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='EdgeNets ESPNetv2 segmentation .pth')
    parser.add_argument('dst', help='mmseg checkpoint to write')
    parser.add_argument(
        '--classes',
        choices=sorted(_CLASS_ROWS),
        default='cityscapes',
        help='classifier rows: Cityscapes\' 20 outputs as released, or '
        'CamVid\'s 11 from the mapped Cityscapes rows')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing DST')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if osp.exists(args.dst) and not args.overwrite:
        print(f'{args.dst} exists; not overwritten (pass --overwrite)',
              file=sys.stderr)
        return 1
    ckpt = load_edgenets_checkpoint(args.src, rows=_CLASS_ROWS[args.classes])
    check_loads_into_espnetv2(ckpt['state_dict'], ckpt['meta'])
    ckpt['meta']['classes'] = args.classes
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(ckpt, args.dst)
    meta = ckpt['meta']
    print(f'{args.dst}: {len(ckpt["state_dict"])} tensors, ESPNetV2 '
          f's={meta["widen_factor"]}, {meta["num_classes"]} classes, from '
          f'{args.src} (sha256 {meta["source_sha256"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
