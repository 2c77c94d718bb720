"""Building a segmentor from a config for inference or pruning."""
import copy
from typing import Optional

from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import nn


def build_inference_model(cfg: Config,
                          checkpoint: Optional[str] = None,
                          device: str = 'cpu') -> nn.Module:
    """Build ``cfg.model`` for inference.

    Unlike ``mmseg.apis.init_model`` it leaves ``cfg`` untouched (the
    model's ``train_cfg`` and training-only heads stay, which pruning
    traces) and turns SyncBN into BN.

    Args:
        cfg (Config): A full config (``model`` and ``default_scope``).
        checkpoint (str, optional): Weights to load (non-strict, like
            mmengine's ``load_checkpoint``).
        device (str): Device to move the model to. Defaults to 'cpu'.

    Returns:
        nn.Module: The model in eval mode.
    """
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    # A copy: models built from one config would otherwise share its nested
    # dicts (e.g. test_cfg), so changing one model's ICNet exit changed all.
    model = MODELS.build(copy.deepcopy(cfg.model))
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = revert_sync_batchnorm(model)
    return model.to(device).eval()
