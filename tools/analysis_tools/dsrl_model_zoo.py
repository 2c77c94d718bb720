"""Try DSRL by inheritance on one config of every mmseg model family.

For each folder of mmseg's packaged configs (``mmseg/.mim/configs``) the
first config whose packages are installed gets the README's override
(:data:`mmseg_dsrl.analysis.zoo_check.DSRL_OVERRIDE`), then one training step
and one prediction on a synthetic batch at a small HR crop (doubled until
the model can run on it). Prints a Markdown table: family, config, result,
SISR geometry measured at build, losses.

Example:
    python tools/analysis_tools/dsrl_model_zoo.py --out docs/dsrl_model_zoo.md
"""
import argparse
import os.path as osp
import time
import traceback

import mmseg_dsrl  # noqa: F401
from mmengine.registry import init_default_scope

from mmseg_dsrl.analysis.cli import positive_int
from mmseg_dsrl.analysis.zoo_check import (NOT_APPLICABLE, NOT_APPLICABLE_HEADS,
                                        SUPPORTED_SEGMENTORS,
                                        decode_head_types,
                                        dsrl_step_at_smallest_size,
                                        first_usable_config,
                                        mmseg_config_families, segmentor_type)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hr', type=positive_int, default=128,
                        help='first HR crop side to try (default 128)')
    parser.add_argument('--max-hr', type=positive_int, default=1024,
                        help='largest HR crop side to try (default 1024)')
    parser.add_argument('--families', nargs='+',
                        help='only these families (default: all)')
    parser.add_argument('--out', help='also write the table to this file')
    return parser.parse_args()


def check_family(configs, hr, max_hr):
    """(config name, result, geometry, detail) for one family."""
    path, cfg, missing = first_usable_config(configs)
    if path is None:
        return ('', f'needs {", ".join(missing)} (opt-in)', '', '')
    name = osp.basename(path)
    kind = segmentor_type(cfg)
    if kind in NOT_APPLICABLE:
        return name, 'not applicable', '', NOT_APPLICABLE[kind]
    refused = [h for h in decode_head_types(cfg) if h in NOT_APPLICABLE_HEADS]
    if refused:
        return name, 'not applicable', '', NOT_APPLICABLE_HEADS[refused[0]]
    if kind not in SUPPORTED_SEGMENTORS:
        return name, f'unknown segmentor {kind}', '', ''
    size, out = dsrl_step_at_smallest_size(cfg, hr, max_hr)
    model = out['model']
    geometry = (f'HR {size}: SISR in_channels={model.sisr_head.in_channels},'
                f' r={model.sisr_head.upscale_factor}')
    index = model.sssr.inference_output_index
    if index is not None:
        geometry += f', predicts with score map {index}'
    losses = ', '.join(k for k in sorted(out['losses']) if 'loss' in k)
    return name, f'yes ({type(model).__name__})', geometry, losses


def main() -> None:
    args = parse_args()
    init_default_scope('mmseg')
    families = mmseg_config_families()
    if args.families:
        unknown = sorted(set(args.families) - set(families))
        if unknown:
            raise SystemExit(f'unknown families {unknown}; mmseg has '
                             f'{sorted(families)}')
        families = {k: families[k] for k in args.families}
    lines = ['| family | config tried | DSRL by inheritance | geometry '
             'measured at build | loss terms / reason |',
             '|---|---|---|---|---|']
    for family, configs in families.items():
        start = time.perf_counter()
        try:
            row = check_family(configs, args.hr, args.max_hr)
        except Exception as e:  # noqa: BLE001 - reported in the table
            traceback.print_exc()
            row = ('', f'FAILED: {type(e).__name__}', '', str(e)[:200])
        lines.append(f'| {family} | ' + ' | '.join(row) + ' |')
        print(lines[-1], f'({time.perf_counter() - start:.1f} s)',
              flush=True)
    table = '\n'.join(lines) + '\n'
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table)


if __name__ == '__main__':
    main()
