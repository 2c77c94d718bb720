"""DSRL on mmseg's packaged model zoo: the one override, and a check.

Used by ``tests/test_models/test_dsrl_model_zoo.py`` and
``tools/analysis_tools/dsrl_model_zoo.py``: both walk the config folders
mmseg ships (``mmseg/.mim/configs``), so a family added by a future mmseg
release is covered the day it appears.
"""
import copy
import glob
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict

from .batches import synthetic_batch
from .configs import replace_norm_type

# What a user adds to any EncoderDecoder / CascadeEncoderDecoder config
# (plus custom_imports and HR training crops); README "Use DSRL in your
# own config".
DSRL_OVERRIDE = dict(
    type='DSRLEncoderDecoder',
    input_scale=0.5,
    sssr_head=dict(type='SSSRHead'),
    sisr_head=dict(type='SISRHead'),
    fa_loss=dict(type='FeatureAffinityLoss'))

# Segmentors DSRL attaches to (a backbone, decode head(s), auxiliary heads).
SUPPORTED_SEGMENTORS = ('EncoderDecoder', 'CascadeEncoderDecoder')

# Families whose models are not per-pixel segmentors of an image: DSRL does
# not apply. Found by their segmentor type, not by name.
NOT_APPLICABLE = {
    'MultimodalEncoderDecoder':
    'open-vocabulary segmentation with a CLIP text encoder (SAN); its side '
    'adapter predicts mask proposals classified against text embeddings, '
    'not per-pixel class scores',
    'DepthEstimator':
    'depth estimation (VPD), not semantic segmentation',
}


# Decode heads SSSR cannot wrap: building DSRL on them fails with this
# reason (see ``no_score_map_message``).
NOT_APPLICABLE_HEADS = {
    'MaskFormerHead':
    'mask classification with queries: class scores per query, not per '
    'pixel',
    'Mask2FormerHead':
    'mask classification with queries: class scores per query, not per '
    'pixel',
}


def decode_head_types(cfg: Config) -> List[str]:
    """The type names of a config's decode head(s)."""
    heads = cfg.model.get('decode_head')
    heads = heads if isinstance(heads, (list, tuple)) else [heads]
    return [h.get('type', '') for h in heads if isinstance(h, dict)]


def mmseg_config_root() -> str:
    """The config folders mmseg's wheel ships."""
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')


def mmseg_config_families() -> Dict[str, List[str]]:
    """``{family: sorted config paths}`` for every folder of mmseg's zoo."""
    root = mmseg_config_root()
    families = {}
    for folder in sorted(glob.glob(osp.join(root, '*'))):
        name = osp.basename(folder)
        if name.startswith('_') or not osp.isdir(folder):
            continue
        configs = sorted(glob.glob(osp.join(folder, '*.py')))
        if configs:
            families[name] = configs
    return families


def segmentor_type(cfg: Config) -> Optional[str]:
    model = cfg.get('model')
    if not isinstance(model, dict):
        return None
    t = model.get('type')
    return t if isinstance(t, str) else getattr(t, '__name__', None)


def apply_dsrl_override(cfg: Config,
                        hr_size: Tuple[int, int],
                        input_scale: float = 0.5) -> ConfigDict:
    """The model config a user gets by adding :data:`DSRL_OVERRIDE` to
    ``cfg``, trained on HR crops of ``hr_size``.

    Also what a CPU check needs: BN instead of SyncBN, whole-image testing,
    and backbones with a fixed input size (BEiT, MAE: ``img_size``) built
    for the LR crop, as the build error asks.
    """
    model = ConfigDict(copy.deepcopy(cfg.model.to_dict()))
    override = copy.deepcopy(DSRL_OVERRIDE)
    override['input_scale'] = input_scale
    for key, value in override.items():
        model[key] = value
    model.data_preprocessor['size'] = tuple(hr_size)
    model.data_preprocessor.pop('size_divisor', None)
    test_cfg = dict(model.get('test_cfg') or {})
    for key in ('crop_size', 'stride'):
        test_cfg.pop(key, None)
    test_cfg['mode'] = 'whole'
    model.test_cfg = test_cfg
    backbone = model.get('backbone', {})
    if 'img_size' in backbone:
        backbone['img_size'] = tuple(
            max(1, int(s * input_scale + 0.5)) for s in hr_size)
    model.pop('pretrained', None)
    replace_norm_type(model)
    return model


def required_packages(cfg: Config) -> List[str]:
    """Packages a config needs besides mmseg: its ``custom_imports`` and
    the scopes of scoped types (``mmdet.PixelDecoder``,
    ``mmpretrain.ConvNeXt``)."""
    found = set()
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    found.update(name.split('.')[0] for name in imports)

    def walk(node):
        if isinstance(node, dict):
            t = node.get('type')
            if isinstance(t, str) and '.' in t:
                found.add(t.split('.')[0])
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(cfg.get('model', {}))
    found.discard('mmseg')
    found.discard('mmseg_dsrl')
    return sorted(found)


def missing_packages(packages: List[str]) -> List[str]:
    import importlib.util
    return [p for p in packages if importlib.util.find_spec(p) is None]


def load_config_quietly(path: str) -> Config:
    """``Config.fromfile`` without importing ``custom_imports`` (a missing
    optional package is reported by :func:`missing_packages` instead)."""
    return Config.fromfile(path, import_custom_modules=False)


def dsrl_training_step(model_cfg: ConfigDict,
                       hr_size: Tuple[int, int],
                       batch: int = 2) -> dict:
    """Build the DSRL model, run one training step and one prediction.

    Returns:
        dict: ``model``, ``losses`` (detached), ``total`` (the summed loss),
        ``dsrl_grads`` ({parameter name: gradient or None} of the SSSR
        upsampling, FA transform and SISR head) and ``pred_shape`` (the
        predicted mask's (H, W)).
    """
    from mmseg.registry import MODELS
    model = MODELS.build(model_cfg)
    classes = model.num_classes if model.out_channels > 1 else 2
    model.train()
    data = model.data_preprocessor(
        synthetic_batch(classes, hr_size, batch), True)
    losses = model.loss(**data)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    parts = dict(upsample=model.sssr.upsample, sisr=model.sisr_head)
    if model.sssr.fa_transform is not None:
        parts['fa_transform'] = model.sssr.fa_transform
    grads = {
        f'{part}.{name}': p.grad
        for part, module in parts.items()
        for name, p in module.named_parameters()
    }
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(
            synthetic_batch(classes, hr_size, 1, seed=1), False)
        pred = model.predict(**data)
    return dict(
        model=model,
        losses={k: v.detach() for k, v in losses.items()},
        total=total.detach(),
        dsrl_grads=grads,
        pred_shape=tuple(pred[0].pred_sem_seg.shape))


def first_usable_config(configs: List[str]
                        ) -> Tuple[Optional[str], Optional[Config], List[str]]:
    """The first config (in the given order) whose packages are installed:
    ``(path, config, [])``, or ``(None, None, missing packages)``."""
    missing_all = set()
    for path in configs:
        cfg = load_config_quietly(path)
        missing = missing_packages(required_packages(cfg))
        if not missing:
            return path, cfg, []
        missing_all.update(missing)
    return None, None, sorted(missing_all)


def dsrl_step_at_smallest_size(cfg: Config, hr: int, max_hr: int
                               ) -> Tuple[int, dict]:
    """:func:`dsrl_training_step` on square HR crops of side ``hr``, doubled
    while the model cannot run on the crop (LRASPP's 49x49 pooling needs
    LR features at least that large), up to ``max_hr``.

    Returns:
        tuple: The side used and the step's result.
    """
    from ..models.utils.feature_geometry import FeatureGeometryError
    size = hr
    while True:
        try:
            return size, dsrl_training_step(
                apply_dsrl_override(cfg, (size, size)), (size, size))
        except FeatureGeometryError:
            if size >= max_hr:
                raise
            size *= 2
