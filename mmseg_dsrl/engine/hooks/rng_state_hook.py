"""Resume with the random state a run had when it saved its checkpoint."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

_KEY = 'torch_rng_state'


@HOOKS.register_module()
class TorchRNGStateHook(Hook):
    """Save torch's random state in every checkpoint; restore it on resume.

    mmengine's resume restores weights, optimizer, schedulers and the
    seed, and replays the data loader up to the resumed iteration (so the
    data pipeline's numpy / random draws repeat exactly), but torch's
    global generator restarts from the seed: dropout masks and any other
    torch draw in the model differ from an uninterrupted run after the
    resume point. With this hook, a run resumed at iteration k starts
    iteration k + 1 from exactly the state an uninterrupted run starts it
    from: weights, buffers, optimizer and schedulers, torch's, numpy's and
    Python's random states and the next data batch
    (``tests/test_engine/test_resume_and_faults.py``). Whether the two runs
    then stay bitwise identical depends on every kernel being run-to-run
    reproducible, which ``randomness.deterministic`` does not promise on
    CPU: on the demo config, 4 iterations with 1 thread instead of 2 move
    some weights by 0.04.

    The state is restored right before the first resumed iteration, after
    the data loader's replay, which draws from its own generators.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(cpu=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint[_KEY] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get(_KEY)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state['cpu'])
        if 'cuda' in state and torch.cuda.is_available():
            states = state['cuda']
            if len(states) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(states)
