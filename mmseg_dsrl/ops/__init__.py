"""Compiled kernels (optional; everything has a pure PyTorch path).

``csrc/affinity_l1_cpu.cpp`` is built by
``pip install --no-build-isolation -e .`` (setup.py, x86-64 with a C++
compiler; ``MMSEG_DSRL_WITH_OPS=0`` skips it). Nothing here is required:
:func:`affinity_l1_cpu` returns None when the build is missing, stale
(compiled from other source) or the CPU lacks AVX2/FMA, and the Feature
Affinity loss then uses its blocked PyTorch implementation (same result,
slower).
"""
import hashlib
import os.path as osp
import warnings
from types import ModuleType
from typing import Optional

import torch

__all__ = ['affinity_l1_cpu', 'source_sha256']

SOURCE = osp.join(osp.dirname(osp.abspath(__file__)), 'csrc',
                  'affinity_l1_cpu.cpp')

_CACHE: dict = {}


def source_sha256() -> Optional[str]:
    """SHA-256 of the kernel's source next to this file (None if absent,
    e.g. an install that ships only the compiled module)."""
    if not osp.exists(SOURCE):
        return None
    with open(SOURCE, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _load_affinity_l1_cpu() -> Optional[ModuleType]:
    if torch.backends.cpu.get_cpu_capability() not in ('AVX2', 'AVX512'):
        return None  # built with -mavx2 -mfma: would not run here
    try:
        from . import _affinity_l1_cpu as ext
    except ImportError:
        return None
    built, expected = getattr(ext, 'SOURCE_SHA256', None), source_sha256()
    if expected is not None and built != expected:
        warnings.warn(
            'mmseg_dsrl.ops._affinity_l1_cpu is a stale build (compiled from '
            f'source {str(built)[:12]}, the source is now {expected[:12]}); '
            'using the PyTorch implementation of the FA loss. Rebuild with '
            '`pip install --no-build-isolation --no-deps -e .` (or '
            'tools/setup_env.sh).')
        return None
    return ext


def affinity_l1_cpu() -> Optional[ModuleType]:
    """The fused CPU kernel of the FA distance (q = 1), or None.

    Returns:
        module or None: Has ``l1_sum(k_t, k_minus)``,
        ``sign_product(k_t, k_minus)`` and ``COLUMN_TILE``; None when not
        built, stale, or not runnable on this CPU.
    """
    if 'affinity_l1_cpu' not in _CACHE:
        _CACHE['affinity_l1_cpu'] = _load_affinity_l1_cpu()
    return _CACHE['affinity_l1_cpu']
