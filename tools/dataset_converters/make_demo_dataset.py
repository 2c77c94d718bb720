"""Write the built-in synthetic demo dataset (no download needed).

Example:
    python tools/dataset_converters/make_demo_dataset.py data/dsrl_demo --seed 0
"""
import argparse
import os.path as osp
import time

from mmseg_dsrl.datasets.demo_scenes import write_demo_dataset
from mmseg_dsrl.analysis.cli import non_negative_int, positive_int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'out_dir',
        nargs='?',
        default='data/dsrl_demo',
        help='output folder (default: data/dsrl_demo)')
    parser.add_argument('--num-train', type=positive_int, default=60)
    parser.add_argument('--num-val', type=positive_int, default=20)
    parser.add_argument('--height', type=positive_int, default=256)
    parser.add_argument('--width', type=positive_int, default=512)
    parser.add_argument('--seed', type=non_negative_int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    counts = write_demo_dataset(args.out_dir, args.num_train, args.num_val,
                                args.height, args.width, args.seed)
    print(f'wrote {counts} scenes of {args.height}x{args.width} to '
          f'{args.out_dir} in {time.perf_counter() - start:.1f}s')


if __name__ == '__main__':
    main()
