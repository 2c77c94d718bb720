"""Config helpers shared by the project's tools."""
from typing import Any, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import print_log


def resolve_config_path(path: str) -> str:
    """``mmseg::fcn/x.py`` -> the file in mmseg's packaged configs; any
    other path unchanged."""
    if not path.startswith('mmseg::'):
        return path
    import os.path as osp

    import mmseg
    return osp.join(
        osp.dirname(mmseg.__file__), '.mim', 'configs', path[len('mmseg::'):])


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config (a file, or ``mmseg::`` + a path in mmseg's packaged
    configs; ``mmseg::`` bases resolved) and merge CLI options."""
    cfg = Config.fromfile(resolve_config_path(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def replace_norm_type(node: Any, old: str = 'SyncBN', new: str = 'BN') -> int:
    """Replace ``type=old`` norm configs by ``type=new`` in place.

    Returns:
        int: How many norm configs were changed.
    """
    changed = 0
    if isinstance(node, dict):
        if node.get('type') == old:
            node['type'] = new
            changed += 1
        for value in node.values():
            changed += replace_norm_type(value, old, new)
    elif isinstance(node, (list, tuple)):
        for value in node:
            changed += replace_norm_type(value, old, new)
    return changed


def use_bn_without_cuda(cfg: Config) -> None:
    """SyncBN cannot synchronise CPU tensors (torch raises under DDP), so on a
    machine without CUDA the model's SyncBN layers become BN (logged)."""
    import torch
    if torch.cuda.is_available():
        return
    changed = replace_norm_type(cfg.model)
    if changed:
        print_log(
            f'no CUDA device: {changed} SyncBN config(s) use BN instead',
            logger='current')


def parse_shape(shape: Sequence[int]) -> tuple:
    """(H, W) from a ``--shape`` argument of one or two ints."""
    if len(shape) == 1:
        return (shape[0], shape[0])
    if len(shape) == 2:
        return tuple(shape)
    raise ValueError(f'--shape takes H W or one size, got {list(shape)}')


#: CamVid's dev split: train without its sequence 0001TP (62 of 367 frames),
#: which is evaluated on instead. Frames of one sequence are near-duplicates,
#: so the held-out part is a whole sequence. Defaults and ablation winners
#: are chosen on dev; reported runs train on all of train and report on val
#: (sequence 0016E5, other frames than train's), which never chooses.
CAMVID_DEV_SEQUENCES = ('0001TP', )
CAMVID_DEV_TRAIN_SEQUENCES = ('0006R0', '0016E5')


def camvid_split_options(split: str) -> dict:
    """cfg_options that train and evaluate a CamVid config on ``split``:
    'val' (the configs as they are) or 'dev' (see
    :data:`CAMVID_DEV_SEQUENCES`)."""
    if split == 'val':
        return {}
    if split != 'dev':
        raise ValueError(f"split must be 'val' or 'dev', got {split!r}")
    options = {
        'train_dataloader.dataset.sequences': list(CAMVID_DEV_TRAIN_SEQUENCES)
    }
    for loader in ('val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_prefix'] = dict(
            img_path='train', seg_map_path='trainannot')
        options[f'{loader}.dataset.sequences'] = list(CAMVID_DEV_SEQUENCES)
    return options


def has_hr_teacher(cfg: Config) -> bool:
    """Whether a config's model trains with an HR teacher
    (``model.hr_teacher``)."""
    return bool(cfg.model.get('hr_teacher'))


def save_initialised_teacher(cfg: Config, path: str) -> str:
    """Save the model of ``cfg``'s HR-teacher config, freshly initialised
    (``init_weights``, as its own training would start), as a checkpoint
    the teacher loads strictly; for measurements whose cost does not depend
    on the teacher's weights (the training step's time).

    Returns:
        str: ``path``.
    """
    import torch
    from mmseg.registry import MODELS
    teacher_cfg = load_config(cfg.model.hr_teacher.config)
    use_bn_without_cuda(teacher_cfg)
    model = MODELS.build(teacher_cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def with_class_count_check(cfg: Config) -> Config:
    """Add :class:`~mmseg_dsrl.engine.ClassCountCheckHook` to
    ``cfg.custom_hooks`` (once): heads and dataset must agree on the number
    of classes before any step."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == 'ClassCountCheckHook' for h in hooks):
        hooks.append(dict(type='ClassCountCheckHook'))
    cfg.custom_hooks = hooks
    return cfg

