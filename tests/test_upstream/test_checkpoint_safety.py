"""Checkpoint loading: runner checkpoints load through mmengine's paths,
nothing else in the process is loosened, hostile files are refused without
side effects, unreadable files get a clear message, saves are atomic."""
import copyreg
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from dsrl_test_utils import tiny_segmentor_cfg
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.registry import MODELS

import mmengine.logging.history_buffer as history_buffer_module
from mmseg_dsrl.upstream import UnreadableCheckpointError


def _runner_checkpoint(extra=None):
    hub = MessageHub.get_instance('test_checkpoint_safety')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    ckpt = dict(
        meta=dict(seed=np.int64(3), dtype=np.dtype('float32'),
                  arr=np.arange(3, dtype=np.float32)),
        message_hub=hub.state_dict(),
        state_dict=dict(w=torch.ones(2)))
    ckpt.update(extra or {})
    return ckpt


def _save(tmp_path, obj, name='ckpt.pth'):
    path = str(tmp_path / name)
    torch.save(obj, path)
    return path


class Reduce:
    """Pickles as ``fn(*args)`` (plus dict items to set on the result)."""

    def __init__(self, fn, args, dictitems=None):
        self.fn, self.args, self.dictitems = fn, args, dictitems

    def __reduce__(self):
        if self.dictitems is None:
            return self.fn, self.args
        return self.fn, self.args, None, None, iter(self.dictitems)


class GetAttr(Reduce):
    """Pickles as ``getattr(obj, name)``; callable, so it can also stand
    where pickle needs the function of a reduce."""

    def __init__(self, obj, name, dictitems=None):
        super().__init__(getattr, (obj, name), dictitems)

    def __call__(self, *args):  # never called: only pickled
        raise AssertionError('GetAttr is a pickling stand-in')


class HistoryBufferState:
    """Pickles as a HistoryBuffer built with ``state`` (what a crafted file
    can hold; HistoryBuffer's own pickling never writes such a state)."""

    def __init__(self, **changes):
        self.state = dict(max_length=10, _log_history=np.ones(1),
                          _count_history=np.ones(1))
        self.state.update(changes)

    @property
    def __class__(self):  # pickle checks that NEWOBJ builds this class
        return HistoryBuffer

    def __reduce__(self):
        return copyreg.__newobj__, (HistoryBuffer, ), self.state


def _payloads(marker):
    command = f'touch {marker}'
    return {
        'os.system via __reduce__': Reduce(os.system, (command, )),
        'getattr chain to builtins.eval': Reduce(
            GetAttr(GetAttr(getattr, '__self__'), 'eval'),
            (f"__import__('os').system('{command}')", )),
        'getattr chain planting a module global': GetAttr(
            GetAttr(HistoryBuffer, 'update'), '__globals__',
            [('PWNED_BY_CHECKPOINT', True)]),
        'object array through numpy reconstructor': np.array(
            [Reduce(os.system, (command, ))], dtype=object),
        'HistoryBuffer with a swapped statistics method': HistoryBufferState(
            statistics_methods={'mean': GetAttr(HistoryBuffer, 'min')}),
        'HistoryBuffer with an extra attribute': HistoryBufferState(
            run_me='x'),
        'HistoryBuffer with an object array': HistoryBufferState(
            _log_history=np.array(['x'], dtype=object)),
    }


def _no_side_effect(marker):
    assert not osp.exists(marker)
    assert 'PWNED_BY_CHECKPOINT' not in vars(history_buffer_module)
    assert HistoryBuffer._statistics_methods == {
        'min': HistoryBuffer.min, 'max': HistoryBuffer.max,
        'current': HistoryBuffer.current, 'mean': HistoryBuffer.mean}


def _tiny_model():
    return MODELS.build(tiny_segmentor_cfg(type='LRInputEncoderDecoder'))


def _init_model(path):
    from mmengine.config import Config
    from mmseg.apis import init_model
    cfg = Config(dict(model=tiny_segmentor_cfg(type='LRInputEncoderDecoder')))
    return init_model(cfg, path, 'cpu')


LOADERS = {
    'CheckpointLoader': lambda path: CheckpointLoader.load_checkpoint(path),
    'load_checkpoint': lambda path: load_checkpoint(_tiny_model(), path),
    'init_model': _init_model,
}


def test_plain_torch_load_is_not_loosened(tmp_path):
    path = _save(tmp_path, _runner_checkpoint())
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(path, weights_only=True)
    path = _save(tmp_path, {'cls': HistoryBuffer}, 'only_history_buffer.pth')
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)
    names = [getattr(g[0] if isinstance(g, tuple) else g, '__module__', '')
             for g in torch.serialization.get_safe_globals()]
    assert not [n for n in names if n.startswith(('mmengine', 'numpy',
                                                  'builtins'))]


def test_crafted_but_benign_history_buffer_state_loads(tmp_path):
    """The state check refuses what is foreign, not what is valid."""
    path = _save(tmp_path, {'b': HistoryBufferState(
        statistics_methods={'mean': GetAttr(HistoryBuffer, 'mean')})})
    buf = CheckpointLoader.load_checkpoint(path)['b']
    assert type(buf) is HistoryBuffer and buf.mean() == 1.0


def test_runner_checkpoint_loads_through_mmengine(tmp_path):
    ckpt = CheckpointLoader.load_checkpoint(
        _save(tmp_path, _runner_checkpoint()))
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert type(buf) is HistoryBuffer and buf.current() == 1.5
    assert buf.mean() == 1.5  # its statistics methods work
    np.testing.assert_array_equal(ckpt['meta']['arr'], np.arange(3))


@pytest.mark.parametrize('loader', sorted(LOADERS))
@pytest.mark.parametrize('payload', sorted(_payloads('unused')))
def test_hostile_checkpoint_refused_without_side_effect(
        tmp_path, loader, payload):
    marker = str(tmp_path / 'executed')
    path = _save(tmp_path, _runner_checkpoint(
        dict(payload=_payloads(marker)[payload])))
    with pytest.raises(UnreadableCheckpointError) as info:
        LOADERS[loader](path)
    message = str(info.value)
    assert message.startswith(f'not a readable checkpoint: {path} (')
    assert 'weights_only' not in message and 'Re-running' not in message
    _no_side_effect(marker)


def test_unrestricted_getattr_would_plant_the_global(tmp_path):
    """Why getattr is replaced: with the real one on the allow-list, the
    planting payload reaches a module's globals."""
    path = _save(tmp_path, {'p': _payloads('x')[
        'getattr chain planting a module global']})
    try:
        with torch.serialization.safe_globals([HistoryBuffer, getattr]):
            torch.load(path, weights_only=True)
        assert vars(history_buffer_module).get('PWNED_BY_CHECKPOINT')
    finally:
        vars(history_buffer_module).pop('PWNED_BY_CHECKPOINT', None)


def _truncated(tmp_path):
    good = _save(tmp_path, _runner_checkpoint(), 'good.pth')
    data = open(good, 'rb').read()
    path = str(tmp_path / 'truncated.pth')
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    return path


@pytest.mark.parametrize('kind', ['random', 'truncated', 'text', 'empty'])
def test_unreadable_file_gets_a_clear_message(tmp_path, kind):
    path = str(tmp_path / f'{kind}.pth')
    if kind == 'truncated':
        path = _truncated(tmp_path)
    else:
        content = {'random': np.random.default_rng(0).bytes(4096),
                   'text': b'model = dict(type="EncoderDecoder")\n',
                   'empty': b''}[kind]
        with open(path, 'wb') as f:
            f.write(content)
    with pytest.raises(UnreadableCheckpointError,
                       match=f'^not a readable checkpoint: {path} \\('):
        load_checkpoint(_tiny_model(), path)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    path = _save(tmp_path, {'state_dict': other.state_dict()})
    with pytest.raises(ValueError, match=r'another architecture: none of its '
                       r'2 keys is in the model; unexpected 2 \(0.bias'):
        load_checkpoint(_tiny_model(), path)


def test_runner_save_is_atomic(tmp_path, monkeypatch):
    """A save that dies half-way leaves the previous checkpoint intact and
    no partial file behind."""
    import mmengine.runner.runner as runner_module
    path = str(tmp_path / 'iter_2.pth')
    runner_module.save_checkpoint({'state_dict': {'w': torch.ones(2)}}, path)

    def dying_save(obj, f, *args, **kwargs):
        f.write(b'PK\x03\x04 half of a zip')
        raise KeyboardInterrupt  # as a kill during the write

    monkeypatch.setattr(torch, 'save', dying_save)
    with pytest.raises(KeyboardInterrupt):
        runner_module.save_checkpoint({'state_dict': {'w': torch.zeros(2)}},
                                      path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ['iter_2.pth']
    loaded = CheckpointLoader.load_checkpoint(path)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_runner_checkpoint_loads_in_a_fresh_process(tmp_path):
    """HistoryBuffer registers its default statistics only when a buffer is
    created: a process that resumes before creating one must still load."""
    import subprocess
    import sys
    path = _save(tmp_path, _runner_checkpoint())
    code = ('import mmseg_dsrl\n'
            'from mmengine.runner.checkpoint import CheckpointLoader\n'
            f'c = CheckpointLoader.load_checkpoint({path!r})\n'
            "print(c['message_hub']['log_scalars']['train/loss'].mean())\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == '1.5'


def test_tta_model_loads_the_checkpoint_of_its_segmentor(tmp_path):
    """``tools/test.py --tta`` loads into SegTTAModel(module=segmentor)."""
    from mmseg.models import SegTTAModel
    model = _tiny_model()
    path = _save(tmp_path, {'state_dict': model.state_dict()})
    tta = SegTTAModel(module=_tiny_model())
    load_checkpoint(tta, path)
    for key, value in model.state_dict().items():
        assert torch.equal(tta.module.state_dict()[key], value), key
