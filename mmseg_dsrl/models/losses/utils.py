"""Argument checks shared by the plugin's loss modules."""

REDUCTIONS = ('none', 'mean', 'sum')


def check_loss_args(reduction: str, loss_name: str) -> None:
    """Validate mmseg-style ``reduction`` and ``loss_name`` arguments."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got '
                         f'{reduction!r}')
    if not loss_name.startswith('loss_'):
        raise ValueError(f"loss_name must start with 'loss_' to be "
                         f'back-propagated, got {loss_name!r}')
