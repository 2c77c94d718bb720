"""Pack CamVid (SegNet layout) into one small tar, or unpack it.

The images travel as JPEG, the label maps as they are; unpacking writes the
SegNet layout back with PNG images, which the CamVid configs read unchanged
(``mmseg_dsrl/datasets/packing.py``). For a machine that only takes a small
upload (the GPU command of ``tools/experiments/camvid_gpu.sh``).

Example:
    python tools/dataset_converters/pack_camvid.py pack \\
        ../shared/datasets/camvid gpu_carry/camvid_q95.tar --quality 95
    python tools/dataset_converters/pack_camvid.py unpack \\
        gpu_carry/camvid_q95.tar /tmp/camvid
"""
import argparse
import os.path as osp

from mmseg_dsrl.datasets.packing import (pack_segnet_folder,
                                         unpack_segnet_archive)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    pack = sub.add_parser('pack', help='SegNet folder -> tar')
    pack.add_argument('src', help='the dataset root (train/, trainannot/, '
                      'val/, valannot/)')
    pack.add_argument('archive', help='the tar to write (must not exist)')
    pack.add_argument('--quality', type=int, default=95,
                      help='JPEG quality of the images (default 95)')
    unpack = sub.add_parser('unpack', help='tar -> SegNet folder')
    unpack.add_argument('archive')
    unpack.add_argument('dst', help='the dataset root to write (new or '
                        'empty)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.command == 'pack':
        manifest = pack_segnet_folder(args.src, args.archive, args.quality)
        size = osp.getsize(args.archive) / 2**20
        for split, info in manifest['splits'].items():
            print(f'{split}: {info["images"]} images, PSNR against the '
                  f'source mean {info["mean_psnr_db"]:.1f} dB, lowest '
                  f'{info["min_psnr_db"]:.1f} dB')
        print(f'wrote {args.archive}: {size:.1f} MiB (JPEG quality '
              f'{args.quality})')
    else:
        manifest = unpack_segnet_archive(args.archive, args.dst)
        counts = {s: i['images'] for s, i in manifest['splits'].items()}
        print(f'wrote {args.dst}: {counts}')


if __name__ == '__main__':
    main()
