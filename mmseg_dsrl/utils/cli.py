"""argparse types for the tools: bad numbers fail at the command line.

Each type raises ``argparse.ArgumentTypeError`` naming the value and what
was expected, so ``tools/analysis_tools/get_flops.py CONFIG --shape 0 512`` ends in
"argument --shape: must be an integer >= 1, got 0" instead of an error
deep inside torch.
"""
import argparse
import re
from typing import Tuple

__all__ = [
    'positive_int', 'non_negative_int', 'positive_float',
    'non_negative_float', 'keep_ratio', 'hw_size'
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
