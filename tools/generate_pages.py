"""Regenerate every results table of the documentation from its records.

Rewrites each generated block of README.md, configs/*/README.md and
docs/*.md from the committed records under results/ (see
mmseg_dsrl/analysis/pages.py for the markers), then checks every
configs/*/metafile.yaml against the same records. With --check it writes
nothing and exits 1 when anything differs (the test suite runs it).

Example:
    python tools/generate_pages.py           # after adding records
    python tools/generate_pages.py --check
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='only compare; exit 1 when anything differs')
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    from mmseg_dsrl.analysis.pages import check_all, pages_with_blocks
    problems = check_all(REPO, write=not args.check)
    for problem in problems:
        print(problem)
    if problems:
        if args.check:
            print('regenerate the pages with python tools/generate_pages.py; '
                  'a metafile is corrected by hand')
        return 1
    pages = list(pages_with_blocks(REPO))
    print(f'{len(pages)} pages with generated tables '
          f'({", ".join(pages)}) and the metafiles agree with the records')
    return 0


if __name__ == '__main__':
    sys.exit(main())
