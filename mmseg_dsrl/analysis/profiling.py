"""Profiling a training step: operator times and module-group ranges."""
from contextlib import contextmanager
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

#: The module groups of a (DSRL) segmentor that get their own range.
GROUPS = ('backbone', 'decode_head', 'auxiliary_head', 'sisr_head',
          'fa_loss')


@contextmanager
def labelled_groups(model: nn.Module, groups: Sequence[str] = GROUPS):
    """torch.profiler ranges around each module group's ``forward`` and
    ``loss`` (heads compute their losses in ``loss``, which calls
    ``forward`` directly, so module hooks would miss them); nested calls of
    one group are counted once."""
    patched = []
    for name in groups:
        module = getattr(model, name, None)
        if module is None:
            continue
        depth = [0]
        for method in ('forward', 'loss'):
            original = getattr(module, method, None)
            if original is None:
                continue

            def wrapped(*a, _original=original, _name=name, _depth=depth,
                        **k):
                if _depth[0]:
                    return _original(*a, **k)
                _depth[0] += 1
                try:
                    with torch.profiler.record_function(f'group::{_name}'):
                        return _original(*a, **k)
                finally:
                    _depth[0] -= 1

            had = method in module.__dict__
            patched.append((module, method, had, module.__dict__.get(method)))
            setattr(module, method, wrapped)
    try:
        yield
    finally:
        for module, method, had, old in reversed(patched):
            if had:
                setattr(module, method, old)
            else:
                delattr(module, method)


def operator_times(model, optim, data, steps: int) -> Dict[str, float]:
    """Self CPU milliseconds per operator, mean over ``steps`` steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            model.train_step(data, optim)
    return {
        e.key: e.self_cpu_time_total / 1e3 / steps
        for e in prof.key_averages()
    }


def operator_difference(
        base: Dict[str, float],
        other: Dict[str, float]) -> List[Tuple[str, float, float, float]]:
    """``(operator, base ms, other ms, other - base)`` for every operator
    of either profile, the largest addition first."""
    rows = [(name, base.get(name, 0.0), other.get(name, 0.0),
             other.get(name, 0.0) - base.get(name, 0.0))
            for name in set(base) | set(other)]
    return sorted(rows, key=lambda row: (-row[3], row[0]))
