"""Config entry point for filter-pruned models."""
from mmengine.runner import CheckpointLoader
from mmseg.registry import MODELS
from torch import nn

from ..utils.typing_utils import ConfigType
from .reshape import reshape_to_state_dict


@MODELS.register_module()
def PrunedSegmentor(model: ConfigType, shapes_from: str,
                    **overrides) -> nn.Module:
    """Build ``model`` with the layer widths of a pruned checkpoint.

    ``tools/compression/prune.py`` writes configs of the form::

        model = dict(type='PrunedSegmentor', model=<the original model>,
                     shapes_from='work_dirs/prune/step2/pruned.pth')

    so that mmseg's ``tools/test.py``, the project's ``tools/analysis_tools/benchmark.py``
    and ``tools/analysis_tools/get_flops.py`` (and ``init_model``) load pruned models like
    any other. The weights are loaded as usual (``load_from`` / the
    checkpoint argument); only the shapes are read here.

    Args:
        model (dict): Config of the original (unpruned) segmentor.
        shapes_from (str): A checkpoint of the pruned model.
        **overrides: Keys set on ``model`` first (mmseg's ``init_model``
            sets ``pretrained`` and ``train_cfg`` on the top-level config).

    Returns:
        nn.Module: The segmentor with pruned widths (uninitialised values).
    """
    model = dict(model, **overrides)
    segmentor = MODELS.build(model)
    ckpt = CheckpointLoader.load_checkpoint(shapes_from, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt)
    return reshape_to_state_dict(segmentor, state_dict)
