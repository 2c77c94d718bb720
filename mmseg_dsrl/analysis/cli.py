"""argparse types for the tools: bad numbers fail at the command line.

Each type raises ``argparse.ArgumentTypeError`` naming the value and what
was expected, so ``tools/analysis_tools/get_flops.py CONFIG --shape 0 512`` ends in
"argument --shape: must be an integer >= 1, got 0" instead of an error
deep inside torch.
"""
import argparse
import os.path as osp
import re
from typing import Dict, Iterable, Sequence, Tuple

__all__ = [
    'positive_int', 'non_negative_int', 'positive_float',
    'non_negative_float', 'keep_ratio', 'hw_size',
    'add_dsrl_comparison_args', 'label_extra_configs'
]


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f'must be {what}, got {text!r}') from None


def _int_at_least(text: str, low: int) -> int:
    value = _number(text, int, f'an integer >= {low}')
    if value < low:
        raise argparse.ArgumentTypeError(
            f'must be an integer >= {low}, got {value}')
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    value = _number(text, float, 'a number > 0')
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(
            f'must be a finite number > 0, got {text}')
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float, 'a number >= 0')
    if not value >= 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(
            f'must be a finite number >= 0, got {text}')
    return value


def keep_ratio(text: str) -> float:
    """A pruning keep ratio in (0, 1]."""
    value = _number(text, float, 'a keep ratio in (0, 1]')
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f'must be a keep ratio in (0, 1], got {text}')
    return value


def hw_size(text: str) -> Tuple[int, int]:
    """``HxW`` with positive integers, e.g. ``512x1024``."""
    match = re.fullmatch(r'\s*(\d+)\s*[xX]\s*(\d+)\s*', text)
    if not match or min(int(match.group(1)), int(match.group(2))) < 1:
        raise argparse.ArgumentTypeError(
            f'must be HxW with integers >= 1 (e.g. 512x1024), got {text!r}')
    return int(match.group(1)), int(match.group(2))


def add_dsrl_comparison_args(parser: argparse.ArgumentParser,
                             extra_help: str) -> None:
    """The positional DSRL config, ``--baseline`` and ``--extra`` of the
    tools that time a DSRL config against its LR baseline."""
    parser.add_argument('config', help='a DSRL config')
    parser.add_argument('--baseline', required=True,
                        help='its LR-input baseline config')
    parser.add_argument('--extra', nargs='+', default=[],
                        help=f'{extra_help}, labelled by file name up to '
                        'the first "_"')


def label_extra_configs(paths: Sequence[str],
                        taken: Iterable[str]) -> Dict[str, str]:
    """``{label: path}`` for ``--extra`` configs, labelled by file name up
    to the first '_' (``dsrl-paper_...py`` -> ``dsrl-paper``).

    Raises:
        ValueError: a label repeats one in ``taken`` or another extra's.
    """
    labels: Dict[str, str] = {}
    taken = set(taken)
    for path in paths:
        label = osp.splitext(osp.basename(path))[0].split('_')[0]
        if label in taken or label in labels:
            raise ValueError(f'--extra {path}: the label {label!r} is taken')
        labels[label] = path
    return labels
