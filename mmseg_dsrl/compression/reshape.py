"""Give a freshly built model the layer widths stored in a state dict."""
from typing import Dict

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def _replace(module: nn.Module, name: str, shape: torch.Size) -> None:
    old = getattr(module, name)
    if old is None or old.shape == shape:
        return
    new = torch.empty(shape, dtype=old.dtype, device=old.device)
    if isinstance(old, nn.Parameter):
        setattr(module, name, nn.Parameter(new, old.requires_grad))
    else:
        module.register_buffer(name, new)


def reshape_to_state_dict(model: nn.Module,
                          state_dict: Dict[str, Tensor]) -> nn.Module:
    """Resize convolutions and norms of ``model`` to ``state_dict``'s shapes.

    Used to rebuild a filter-pruned network from its original config: every
    Conv2d / ConvTranspose2d / BatchNorm (SyncBN included) whose tensors in
    ``state_dict`` are narrower gets those shapes and matching
    ``in_channels`` / ``out_channels`` / ``num_features``. Values are left
    uninitialised: load the state dict afterwards.

    Raises:
        ValueError: when a parameter or buffer of another kind of module has
            a different shape (not a pruned architecture of this model).
    """
    for prefix, module in model.named_modules():
        key = f'{prefix}.' if prefix else ''
        tensors = {
            n: state_dict[key + n]
            for n, _ in list(module.named_parameters(recurse=False)) +
            list(module.named_buffers(recurse=False)) if key + n in state_dict
        }
        if isinstance(module, _CONVS) and 'weight' in tensors:
            w = tensors['weight'].shape
            if isinstance(module, nn.ConvTranspose2d):
                module.in_channels = w[0]
                module.out_channels = w[1] * module.groups
            else:
                module.out_channels = w[0]
                module.in_channels = w[1] * module.groups
        elif isinstance(module, _BatchNorm) and 'weight' in tensors:
            module.num_features = tensors['weight'].shape[0]
        else:
            for n, t in tensors.items():
                if getattr(module, n).shape != t.shape:
                    raise ValueError(
                        f'{key + n}: shape {tuple(t.shape)} in the state dict '
                        f'but {tuple(getattr(module, n).shape)} in the model '
                        f'({type(module).__name__} cannot be resized): the '
                        'checkpoint is not a pruned version of this model')
            continue
        for n, t in tensors.items():
            _replace(module, n, t.shape)
    return model
