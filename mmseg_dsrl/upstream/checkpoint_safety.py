"""Safe, clear and atomic checkpoint I/O for mmengine's runner.

torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7 does not pass
``weights_only`` and its runner checkpoints hold globals torch's
weights-only unpickler refuses (``HistoryBuffer``, numpy's reconstructors),
so ``--resume``, ``load_from``, ``tools/test.py`` and ``init_model`` fail.
This module, applied on ``import mmseg_dsrl``:

* allows exactly those globals, and only **while mmengine loads a local
  checkpoint** (its ``CheckpointLoader`` scheme for local paths, which
  runner resume, ``load_from``, ``load_checkpoint`` and ``init_model`` all
  go through), under torch's ``safe_globals`` context: a plain
  ``torch.load`` anywhere else in the process behaves exactly as torch's
  default;
* checks the state of every ``HistoryBuffer`` it loads (known keys,
  numeric arrays, only its own statistics methods);
* replaces ``builtins.getattr`` in those loads by
  :func:`history_buffer_method`: ``HistoryBuffer`` pickles its statistics
  methods as ``getattr(HistoryBuffer, 'mean')``, and the real ``getattr``
  would let a crafted file walk from an allowed object to any attribute
  (``__init__.__globals__['__builtins__']['eval']``) and plant it in a
  module's globals; the replacement returns only those methods;
* turns unreadable files into :class:`UnreadableCheckpointError` ("not a
  readable checkpoint: PATH (why)"), without torch's advice to disable the
  safety, and a checkpoint of another architecture (no key in common with
  the model) into an error with the keys summarised;
* makes the runner's checkpoint writes atomic (a temporary file in the same
  folder, fsync, rename), so a process killed while saving leaves the
  previous checkpoint and no half-written file behind.
"""
import contextlib
import functools
import logging
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, Iterator, List

import torch

__all__ = [
    'UnreadableCheckpointError', 'history_buffer_method',
    'runner_checkpoint_globals', 'runner_checkpoint_globals_allowed',
    'load_local_checkpoint', 'apply_checkpoint_safety'
]


class UnreadableCheckpointError(RuntimeError):
    """A file that cannot be loaded as a checkpoint (corrupt, truncated,
    not a checkpoint, or refused by the weights-only unpickler)."""


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _statistics_methods() -> dict:
    """HistoryBuffer's statistics methods: its four defaults (registered
    only once a buffer is created, so maybe not yet in this process) and
    any registered with ``HistoryBuffer.register_statistics``."""
    from mmengine.logging.history_buffer import HistoryBuffer
    methods = {name: vars(HistoryBuffer)[name] for name in _DEFAULT_STATISTICS}
    methods.update(HistoryBuffer._statistics_methods)
    return methods


def history_buffer_method(obj: Any, name: str) -> Callable:
    """``getattr`` restricted to what runner checkpoints use it for: a
    statistics method of mmengine's ``HistoryBuffer``."""
    from mmengine.logging.history_buffer import HistoryBuffer
    methods = _statistics_methods()
    if obj not in (HistoryBuffer, _checked_history_buffer_class()) or \
            not isinstance(name, str) or name not in methods:
        raise pickle.UnpicklingError(
            f'refused getattr({obj!r}, {name!r}): runner checkpoints only '
            f'reference HistoryBuffer statistics methods ({sorted(methods)})')
    return methods[name]


@functools.lru_cache(maxsize=None)
def _checked_history_buffer_class() -> type:
    """A ``HistoryBuffer`` whose unpickling checks the state it is given
    (the unpickler would otherwise put any attribute into its ``__dict__``)
    and then becomes a plain ``HistoryBuffer``."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    class CheckedHistoryBuffer(HistoryBuffer):

        def __setstate__(self, state: Any) -> None:
            allowed = {
                'max_length', '_log_history', '_count_history',
                'statistics_methods'
            }
            if not isinstance(state, dict) or not set(state) <= allowed:
                raise pickle.UnpicklingError(
                    'refused HistoryBuffer state: expected a dict with keys '
                    f'from {sorted(allowed)}, got {_describe_state(state)}')
            length = state.get('max_length', 1)
            if type(length) is not int or length < 1:
                raise pickle.UnpicklingError(
                    f'refused HistoryBuffer.max_length={length!r}')
            for key in ('_log_history', '_count_history'):
                value = state.get(key, np.zeros(0))
                if not (isinstance(value, np.ndarray)
                        and value.dtype.kind in 'biuf'):
                    raise pickle.UnpicklingError(
                        f'refused HistoryBuffer.{key}: expected a numeric '
                        f'array, got {_describe_state(value)}')
            methods = state.get('statistics_methods', {})
            known = _statistics_methods()
            if not isinstance(methods, dict) or any(
                    known.get(name) is not fn for name, fn in methods.items()):
                raise pickle.UnpicklingError(
                    'refused HistoryBuffer.statistics_methods: only its own '
                    f'statistics ({sorted(known)}) may be referenced')
            self.__dict__.update(state)
            self.__class__ = HistoryBuffer

    return CheckedHistoryBuffer


def _describe_state(state: Any) -> str:
    if isinstance(state, dict):
        return f'dict with keys {sorted(map(str, state))}'
    return type(state).__name__


def _numpy_checkpoint_globals() -> List[object]:
    """Numpy objects that pickled arrays, scalars and dtypes reference."""
    import numpy as np
    try:  # numpy >= 2 moved core to _core; numpy 1.x pickles use core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    found: List[object] = [_reconstruct, scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25 dtype classes
    if dtypes is not None:
        found += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return found


def runner_checkpoint_globals() -> List[Any]:
    """The globals mmengine runner checkpoints contain, in the form
    ``torch.serialization.safe_globals`` takes."""
    return [
        (_checked_history_buffer_class(),
         'mmengine.logging.history_buffer.HistoryBuffer'),
        (history_buffer_method, 'builtins.getattr'),
        *_numpy_checkpoint_globals()
    ]


@contextlib.contextmanager
def runner_checkpoint_globals_allowed() -> Iterator[None]:
    """Within the block, ``torch.load`` accepts runner checkpoints."""
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    if safe_globals is None:  # torch < 2.5: weights_only is off by default
        yield
        return
    with safe_globals(runner_checkpoint_globals()):
        yield


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else 'empty'


def _why_unreadable(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, pickle.UnpicklingError) and 'Weights only' in text:
        # Keep torch's diagnosis (its last paragraph), drop its advice to
        # turn the check off or to allow-list what the file asks for.
        lines = [
            line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith('Check the doc')
        ]
        detail = lines[-1].split('WeightsUnpickler error:')[-1]
        detail = detail.split('Please use `torch.serialization')[0].strip()
        if detail.startswith('Unsupported operand'):
            return ('corrupt or not a torch checkpoint: the unpickler cannot '
                    f'parse it ({detail})')
        return ('refused by the weights-only unpickler, which only loads '
                'what runner checkpoints hold: ' + detail)
    if 'central directory' in text or isinstance(
            error, (EOFError, zipfile.BadZipFile)) or not text:
        return f'truncated, empty or corrupt file: {type(error).__name__}' \
            + (f': {_first_line(text)}' if text else '')
    return f'{type(error).__name__}: {_first_line(text)}'


def load_local_checkpoint(original: Callable) -> Callable:
    """Wrap mmengine's local-file checkpoint loader (see module doc)."""

    def load_from_local(filename, map_location):
        path = osp.expanduser(filename)
        try:
            with runner_checkpoint_globals_allowed():
                return original(filename, map_location)
        except FileNotFoundError:
            raise
        except (pickle.UnpicklingError, RuntimeError, EOFError,
                zipfile.BadZipFile, ValueError, AttributeError, ImportError,
                IndexError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise UnreadableCheckpointError(
                f'not a readable checkpoint: {path} ({_why_unreadable(e)})'
            ) from None

    load_from_local._mmseg_dsrl_patched = True
    return load_from_local


def check_state_dict_matches(original: Callable) -> Callable:
    """Wrap mmengine's ``load_state_dict``: a checkpoint with no key in
    common with the model (another architecture) raises with the keys
    summarised instead of leaving the model at its random initialisation;
    a partial match is described (counts, first names, the likely cause:
    :mod:`mmseg_dsrl.engine.checkpoint_fit`) before mmengine's full lists,
    and the comparison is left on the model as
    ``_mmseg_dsrl_checkpoint_fit``."""

    def load_state_dict(module, state_dict, strict=False, logger=None):
        from mmengine.model import BaseTTAModel, is_model_wrapper
        inner = module
        # As mmengine's loader does: wrappers and TTA models load into
        # the segmentor they hold.
        while is_model_wrapper(inner) or isinstance(inner, BaseTTAModel):
            inner = inner.module
        model_keys = set(inner.state_dict().keys())
        from mmseg_dsrl.engine.checkpoint_fit import (
            as_the_model_loads_it, checkpoint_fit, summarise_keys)
        state_dict = as_the_model_loads_it(inner, state_dict)
        given = list(state_dict.keys())
        common = model_keys.intersection(given)
        if given and model_keys and not common:
            raise ValueError(
                'the checkpoint is for another architecture: none of its '
                f'{len(given)} keys is in the model; unexpected '
                f'{summarise_keys(sorted(given))}; missing '
                f'{summarise_keys(sorted(model_keys))}')
        fit = checkpoint_fit(inner, state_dict)
        # Tools that must not evaluate a partly loaded model read it here.
        inner._mmseg_dsrl_checkpoint_fit = fit
        if not fit.exact:
            from mmengine.logging import print_log
            print_log(fit.describe(), logger='current',
                      level=logging.WARNING)
        return original(module, state_dict, strict=strict, logger=logger)

    load_state_dict._mmseg_dsrl_patched = True
    return load_state_dict


def atomic_save(original: Callable) -> Callable:
    """Wrap mmengine's ``save_checkpoint``: local files are written to a
    temporary file in the same folder, flushed to disk and renamed over the
    target, so the target is always either the old or the complete new
    checkpoint."""

    def save_checkpoint(checkpoint,
                        filename,
                        file_client_args=None,
                        backend_args=None):
        if '://' in str(filename) or file_client_args or backend_args:
            return original(checkpoint, filename, file_client_args,
                            backend_args)
        filename = str(filename)
        folder = osp.dirname(osp.abspath(filename))
        os.makedirs(folder, exist_ok=True)
        tmp = osp.join(folder, f'.{osp.basename(filename)}.{os.getpid()}.part')
        try:
            with open(tmp, 'wb') as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filename)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)

    save_checkpoint._mmseg_dsrl_patched = True
    return save_checkpoint


def apply_checkpoint_safety() -> None:
    """Install the wrappers (idempotent)."""
    import mmengine.runner.checkpoint as ckpt
    import mmengine.runner.runner as runner_module
    loader = ckpt.CheckpointLoader._schemes['']
    if not getattr(loader, '_mmseg_dsrl_patched', False):
        # mmengine's public hook for replacing a scheme's loader.
        ckpt.CheckpointLoader.register_scheme(
            '', load_local_checkpoint(loader), force=True)
    if not getattr(ckpt.load_state_dict, '_mmseg_dsrl_patched', False):
        ckpt.load_state_dict = check_state_dict_matches(ckpt.load_state_dict)
    if not getattr(runner_module.save_checkpoint, '_mmseg_dsrl_patched',
                   False):
        runner_module.save_checkpoint = atomic_save(
            runner_module.save_checkpoint)
