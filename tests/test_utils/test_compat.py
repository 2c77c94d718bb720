"""mmengine runner checkpoints load under torch's weights_only default."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer


class NotAllowListed:
    """A global the weights-only unpickler must keep refusing."""


def test_runner_style_checkpoint_loads_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = dict(
        meta=dict(message_hub=dict(log_scalars={'train/loss': buf}),
                  seed=np.int64(3), arr=np.arange(3, dtype=np.float32),
                  dtype=np.dtype('float64')),
        state_dict=dict(w=torch.ones(2)))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['meta']['message_hub']['log_scalars'][
        'train/loss'].current() == 1.5
    np.testing.assert_array_equal(loaded['meta']['arr'], np.arange(3))


def test_other_globals_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowListed()}, path)
    with pytest.raises(Exception, match='Unsupported global|weights_only'):
        torch.load(path, weights_only=True)
