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
        meta=dict(
            message_hub=dict(log_scalars={'train/loss': buf}),
            seed=np.int64(3),
            arr=np.arange(3, dtype=np.float32),
            dtype=np.dtype('float64')),
        state_dict=dict(w=torch.ones(2)))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['meta']['message_hub']['log_scalars']['train/loss'].current(
    ) == 1.5
    np.testing.assert_array_equal(loaded['meta']['arr'], np.arange(3))


def test_other_globals_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowListed()}, path)
    with pytest.raises(Exception, match='Unsupported global|weights_only'):
        torch.load(path, weights_only=True)


def test_class_weighted_cross_entropy_with_ignored_pixels():
    import torch.nn.functional as F
    from mmseg.models.losses import CrossEntropyLoss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 7, generator=g)
    label = torch.randint(0, 4, (2, 6, 7), generator=g)
    label[:, :2] = 255
    weight = [0.5, 1.0, 2.0, 3.0]
    loss = CrossEntropyLoss(class_weight=weight)(logits, label,
                                                 ignore_index=255)
    expected = F.cross_entropy(logits, label, weight=torch.tensor(weight),
                               ignore_index=255)
    torch.testing.assert_close(loss, expected)
