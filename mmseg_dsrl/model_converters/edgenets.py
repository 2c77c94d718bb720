"""EdgeNets' ESPNetv2 segmentation checkpoints -> this project's modules.

EdgeNets (Mehta et al., MIT licence) publishes ``ESPNetv2Segmentation``
``state_dict`` files; :func:`convert_espnetv2` renames every key to an
``EncoderDecoder`` with an :class:`~mmseg_dsrl.models.backbones.ESPNetV2`
backbone and an :class:`~mmseg_dsrl.models.decode_heads.ESPNetV2Head`,
refusing a file with keys no rule maps, and
:func:`map_classifier_rows` starts a classifier for another label set from
the rows of corresponding classes.

The same conversion is reachable from any config or tool through two
checkpoint prefixes (mmengine's ``CheckpointLoader`` schemes, registered on
``import mmseg_dsrl``)::

    load_from = 'edgenets://PATH.pth'         # Cityscapes' 20 outputs as is
    load_from = 'edgenets-camvid://PATH.pth'  # 11 CamVid rows from mapped
                                              # Cityscapes rows
    load_from = 'edgenets-no-classifier://PATH.pth'  # all but the final
                                              # 1x1 (any label set, fresh)
"""
import hashlib
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'EDGENETS_CITYSCAPES_CLASSES', 'CAMVID_FROM_CITYSCAPES',
    'UNUSED_EDGENETS_KEYS', 'EdgeNetsConversionError', 'convert_espnetv2',
    'map_classifier_rows', 'without_classifier', 'espnetv2_width', 'sha256_of',
    'load_edgenets_checkpoint', 'register_edgenets_schemes',
    'check_loads_into_espnetv2'
]

# EdgeNets' Cityscapes output order (index 19: its "background", ignored in
# evaluation).
EDGENETS_CITYSCAPES_CLASSES = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
    'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
    'truck', 'bus', 'train', 'motorcycle', 'bicycle', 'background')

# CamVid's 11 classes (label values 0-10) -> the Cityscapes classes they
# correspond to (train and background have no counterpart).
CAMVID_FROM_CITYSCAPES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('Sky', ('sky', )),
    ('Building', ('building', 'wall')),
    ('Pole', ('pole', )),
    ('Road', ('road', )),
    ('Pavement', ('sidewalk', )),
    ('Tree', ('vegetation', 'terrain')),
    ('SignSymbol', ('traffic sign', 'traffic light')),
    ('Fence', ('fence', )),
    ('Car', ('car', 'truck', 'bus')),
    ('Pedestrian', ('person', )),
    ('Bicyclist', ('rider', 'bicycle', 'motorcycle')),
)

# Parameters EdgeNets builds but never uses in its forward: the final
# PReLU of the strided EESP inside each down-sampler (its output is fused
# with the pooled input before an activation of the down-sampler's own).
UNUSED_EDGENETS_KEYS = re.compile(
    r'^base_net\.level[234]_0\.eesp\.module_act\.weight$')

# Level-2 channels identify the width multiplier s.
_WIDTH_OF_LEVEL2_CHANNELS = {32: 0.5, 64: 1.0, 80: 1.25, 96: 1.5, 128: 2.0}

_CBR = {'conv': 'conv', 'bn': 'bn', 'act': 'activate'}  # espnet_utils
_SEQ_CBR = {'0': 'conv', '1': 'bn', '2': 'activate'}  # cnn_utils


class EdgeNetsConversionError(ValueError):
    """A state_dict that is not an EdgeNets ESPNetv2 segmentation model."""


def _eesp(rest: str) -> Optional[str]:
    """An EESP block's key below its prefix."""
    m = re.fullmatch(r'proj_1x1\.(conv|bn|act)\.(.+)', rest)
    if m:
        return f'reduce.{_CBR[m[1]]}.{m[2]}'
    m = re.fullmatch(r'spp_dw\.(\d+)\.conv\.weight', rest)
    if m:
        return f'branches.{m[1]}.weight'
    m = re.fullmatch(r'conv_1x1_exp\.(conv|bn)\.(.+)', rest)
    if m:
        return f'expand.{m[1]}.{m[2]}'
    m = re.fullmatch(r'br_after_cat\.bn\.(.+)', rest)
    if m:
        return f'merge_norm.{m[1]}'
    if rest == 'br_after_cat.act.weight':
        return 'merge_act.weight'
    if rest == 'module_act.weight':
        return 'act.weight'
    return None


def _backbone(key: str) -> Optional[str]:
    m = re.fullmatch(r'level1\.(conv|bn|act)\.(.+)', key)
    if m:
        return f'stem.{_CBR[m[1]]}.{m[2]}'
    m = re.fullmatch(r'level([234])_0\.(.+)', key)
    if m:
        level, rest = m[1], m[2]
        if rest.startswith('eesp.'):
            inner = _eesp(rest[len('eesp.'):])
            return None if inner is None else f'down{level}.eesp.{inner}'
        r = re.fullmatch(r'inp_reinf\.([01])\.(conv|bn|act)\.(.+)', rest)
        if r and not (r[1] == '1' and r[2] == 'act'):
            return f'down{level}.reinforce.{r[1]}.{_CBR[r[2]]}.{r[3]}'
        if rest == 'act.weight':
            return f'down{level}.act.weight'
        return None
    m = re.fullmatch(r'level([34])\.(\d+)\.(.+)', key)
    if m:
        inner = _eesp(m[3])
        return None if inner is None else f'blocks{m[1]}.{m[2]}.{inner}'
    return None


def _decoder(key: str, last_stage: int = 4) -> Optional[str]:
    m = re.fullmatch(r'bu_dec_l([1234])\.(.+)', key)
    if m:
        stage, rest = int(m[1]), m[2]
        pyramid = f'pyramids.{stage - 1}'
        r = re.fullmatch(r'stages\.(\d+)\.weight', rest)
        if r:
            return f'{pyramid}.branches.{r[1]}.weight'
        r = re.fullmatch(r'projection_layer\.cbr\.([012])\.(.+)', rest)
        if r:
            return f'{pyramid}.project.{_SEQ_CBR[r[1]]}.{r[2]}'
        r = re.fullmatch(r'merge_layer\.0\.br\.([01])\.(.+)', rest)
        if r:
            return f'{pyramid}.merge_{("norm", "act")[int(r[1])]}.{r[2]}'
        r = re.fullmatch(r'merge_layer\.2\.cbr\.([012])\.(.+)', rest)
        if r:
            return f'{pyramid}.fuse.{_SEQ_CBR[r[1]]}.{r[2]}'
        r = re.fullmatch(r'merge_layer\.3\.(weight|bias)', rest)
        if r and stage == last_stage:
            return f'conv_seg.{r[1]}'
        if r and r[1] == 'weight':
            return f'projections.{stage - 1}.conv.weight'
        r = re.fullmatch(r'br\.br\.([01])\.(.+)', rest)
        if r and stage != last_stage:
            return (f'projections.{stage - 1}.'
                    f'{("bn", "activate")[int(r[1])]}.{r[2]}')
        return None
    m = re.fullmatch(r'merge_enc_dec_l([234])\.(.+)', key)
    if m:
        merge, rest = f'merges.{int(m[1]) - 2}', m[2]
        if rest == 'wt_layer.1.weight':
            return f'{merge}.gate.weight'
        r = re.fullmatch(r'expansion_layer\.cbr\.([012])\.(.+)', rest)
        if r:
            return f'{merge}.project.{_SEQ_CBR[r[1]]}.{r[2]}'
        return None
    m = re.fullmatch(r'bu_br_l([234])\.([01])\.(.+)', key)
    if m:
        return f'merge_acts.{int(m[1]) - 2}.{m[2]}.{m[3]}'
    return None


def _mmseg_key(key: str) -> Optional[str]:
    if key.startswith('base_net.'):
        new = _backbone(key[len('base_net.'):])
        return None if new is None else f'backbone.{new}'
    new = _decoder(key)
    return None if new is None else f'decode_head.{new}'


def _keys_summary(keys: Sequence[str], limit: int = 5) -> str:
    shown = ', '.join(keys[:limit])
    more = f', ... ({len(keys)} in all)' if len(keys) > limit else ''
    return f'{shown}{more}'


def espnetv2_width(state_dict: Dict[str, Tensor]) -> float:
    """The width multiplier s of an EdgeNets ESPNetv2 state_dict (from its
    level-2 channels)."""
    key = 'base_net.level2_0.act.weight'
    if key not in state_dict:
        raise EdgeNetsConversionError(
            f'not an EdgeNets ESPNetv2 segmentation state_dict: no {key!r} '
            f'(first keys: {_keys_summary(list(state_dict))})')
    channels = int(state_dict[key].numel())
    if channels not in _WIDTH_OF_LEVEL2_CHANNELS:
        raise EdgeNetsConversionError(
            f'{key} has {channels} channels; the published ESPNetv2 widths '
            f'have {sorted(_WIDTH_OF_LEVEL2_CHANNELS)}')
    return _WIDTH_OF_LEVEL2_CHANNELS[channels]


def convert_espnetv2(state_dict: Dict[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename an EdgeNets ``ESPNetv2Segmentation`` state_dict to this
    project's segmentor keys (``backbone.*``, ``decode_head.*``).

    Args:
        state_dict (dict[str, Tensor]): EdgeNets' keys (``base_net.*``,
            ``bu_dec_l1..4``, ``merge_enc_dec_l2..4``, ``bu_br_l2..4``), as
            its ``model_zoo`` files hold them (a ``module.`` prefix of a
            DataParallel save is accepted).

    Returns:
        OrderedDict[str, Tensor]: The same tensors under the new keys
        (:data:`UNUSED_EDGENETS_KEYS` dropped).

    Raises:
        EdgeNetsConversionError: A key no rule maps (naming the keys), or
            no key of EdgeNets' ESPNetv2 at all.
    """
    if not isinstance(state_dict, dict) or not all(
            isinstance(k, str) and isinstance(v, Tensor)
            for k, v in state_dict.items()):
        raise EdgeNetsConversionError(
            'expected a state_dict (a dict of str -> Tensor), got '
            f'{type(state_dict).__name__}')
    if state_dict and all(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):]: v for k, v in state_dict.items()}
    espnetv2_width(state_dict)
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    unmapped: List[str] = []
    for key, value in state_dict.items():
        if UNUSED_EDGENETS_KEYS.match(key):
            continue
        new = _mmseg_key(key)
        if new is None:
            unmapped.append(key)
        else:
            converted[new] = value
    if unmapped:
        raise EdgeNetsConversionError(
            f'{len(unmapped)} key(s) of this state_dict are not part of '
            f'EdgeNets\' ESPNetv2 segmentation model: '
            f'{_keys_summary(unmapped)}')
    for key in ('decode_head.conv_seg.weight', 'decode_head.conv_seg.bias'):
        if key not in converted:
            raise EdgeNetsConversionError(
                'no classifier (bu_dec_l4.merge_layer.3.weight / .bias): '
                'not a complete ESPNetv2 segmentation state_dict')
    return converted


def map_classifier_rows(
        state_dict: Dict[str, Tensor],
        target: Sequence[Tuple[str, Sequence[str]]],
        source_classes: Sequence[str] = EDGENETS_CITYSCAPES_CLASSES,
        classifier: str = 'decode_head.conv_seg') -> 'OrderedDict[str, Tensor]':
    """A copy of a converted state_dict whose classifier has one row per
    target class: the mean of the weights and biases of the source classes
    it corresponds to (so its score starts as the mean of theirs).

    Args:
        state_dict (dict[str, Tensor]): Converted keys
            (:func:`convert_espnetv2`).
        target (sequence[tuple[str, sequence[str]]]): Each target class (in
            label order) with its source classes, e.g.
            :data:`CAMVID_FROM_CITYSCAPES`.
        source_classes (sequence[str]): The checkpoint's output order.
        classifier (str): Prefix of the 1x1 classifier's weight and bias.

    Returns:
        OrderedDict[str, Tensor]: ``state_dict`` with the classifier
        replaced.
    """
    weight = state_dict[f'{classifier}.weight']
    bias = state_dict[f'{classifier}.bias']
    if weight.shape[0] != len(source_classes):
        raise ValueError(
            f'{classifier} has {weight.shape[0]} rows but source_classes '
            f'names {len(source_classes)}')
    index = {name: i for i, name in enumerate(source_classes)}
    rows = []
    for name, sources in target:
        unknown = [s for s in sources if s not in index]
        if unknown or not sources:
            raise ValueError(
                f'target class {name!r} maps to {list(sources)}; '
                f'{unknown or "none"} not among the source classes '
                f'{list(source_classes)}')
        rows.append([index[s] for s in sources])
    out = OrderedDict(state_dict)
    out[f'{classifier}.weight'] = torch.stack(
        [weight[r].mean(0) for r in rows])
    out[f'{classifier}.bias'] = torch.stack([bias[r].mean(0) for r in rows])
    return out


def sha256_of(path: str) -> str:
    """The file's sha256 (hex)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_edgenets_checkpoint(
        path: str,
        map_location=None,
        rows: Optional[Callable[[Dict[str, Tensor]], Dict[str, Tensor]]] = None
) -> dict:
    """Read an EdgeNets ESPNetv2 ``.pth`` (weights only) and return an
    mmengine checkpoint dict: ``state_dict`` (converted, ``rows`` applied)
    and ``meta`` naming the source, its sha256 and the classifier's rows
    (None when ``rows`` removed it)."""
    state_dict = torch.load(path, map_location=map_location or 'cpu',
                            weights_only=True)
    converted = convert_espnetv2(state_dict)
    if rows is not None:
        converted = rows(converted)
    classifier = converted.get('decode_head.conv_seg.weight')
    return dict(
        state_dict=converted,
        meta=dict(
            converted_from='EdgeNets ESPNetv2Segmentation',
            source=str(path),
            source_sha256=sha256_of(path),
            widen_factor=espnetv2_width(state_dict),
            num_classes=None if classifier is None else int(
                classifier.shape[0])))


def without_classifier(
    state_dict: Dict[str, Tensor],
    classifier: str = 'decode_head.conv_seg'
) -> 'OrderedDict[str, Tensor]':
    """A copy of a converted state_dict without the final 1x1 classifier
    (``classifier``'s weight and bias), so that a head for another label
    set keeps its own initialisation of it."""
    return OrderedDict((k, v) for k, v in state_dict.items()
                       if not k.startswith(f'{classifier}.'))


def register_edgenets_schemes() -> None:
    """Register ``edgenets://``, ``edgenets-camvid://`` and
    ``edgenets-no-classifier://`` with mmengine's ``CheckpointLoader``
    (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    def camvid_rows(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return map_classifier_rows(sd, CAMVID_FROM_CITYSCAPES)

    for prefix, rows in (('edgenets://', None),
                         ('edgenets-camvid://', camvid_rows),
                         ('edgenets-no-classifier://', without_classifier)):

        def load(filename: str, map_location=None, prefix=prefix, rows=rows):
            return load_edgenets_checkpoint(filename[len(prefix):],
                                            map_location, rows)

        CheckpointLoader.register_scheme(prefix, load, force=True)


def check_loads_into_espnetv2(state_dict: Dict[str, Tensor],
                              meta: dict) -> None:
    """Load a converted state_dict strictly into the ESPNetV2 backbone +
    ESPNetV2Head it describes (``meta``: ``widen_factor``,
    ``num_classes``); raise :class:`EdgeNetsConversionError` naming the keys
    that do not fit."""
    from mmseg.registry import MODELS

    import mmseg_dsrl.models  # noqa: F401  (registers the modules)
    from mmseg_dsrl.models.backbones import ESPNETV2_CHANNELS
    channels = ESPNETV2_CHANNELS[meta['widen_factor']]
    model = torch.nn.ModuleDict(
        dict(
            backbone=MODELS.build(
                dict(type='ESPNetV2', widen_factor=meta['widen_factor'])),
            decode_head=MODELS.build(
                dict(
                    type='ESPNetV2Head',
                    in_channels=channels,
                    in_index=(0, 1, 2, 3),
                    channels=int(state_dict[
                        'decode_head.conv_seg.weight'].shape[1]),
                    num_classes=meta['num_classes'],
                    dropout_ratio=0.0,
                    align_corners=True))))
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [
        f'{k} {tuple(v.shape)} (model: {tuple(own[k].shape)})'
        for k, v in state_dict.items() if k in own and own[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        raise EdgeNetsConversionError(
            'the converted weights do not fit ESPNetV2 '
            f's={meta["widen_factor"]}: missing '
            f'{_keys_summary(missing) or "none"}; unexpected '
            f'{_keys_summary(unexpected) or "none"}; shapes '
            f'{_keys_summary(wrong) or "ok"}')
