"""DSRL by inheritance on one config of every family in mmseg's packaged
model zoo (``mmseg/.mim/configs/*``): the README's override, one training
step and one prediction each. The folders are walked at collection time, so
a family added by a future mmseg release is tested without editing this
file."""
import math

import pytest
import torch

from mmseg_dsrl.analysis.zoo_check import (NOT_APPLICABLE, NOT_APPLICABLE_HEADS,
                                        SUPPORTED_SEGMENTORS,
                                        apply_dsrl_override,
                                        decode_head_types,
                                        dsrl_step_at_smallest_size,
                                        first_usable_config,
                                        mmseg_config_families,
                                        segmentor_type)

FAMILIES = mmseg_config_families()
# Small HR crops keep 50+ models within the suite's budget; a model that
# cannot run at a size (LRASPP's 49x49 pooling needs LR features of at
# least that) is tried at the next doubling, up to MAX_HR.
HR = 128
MAX_HR = 1024


def test_the_zoo_is_found():
    assert len(FAMILIES) >= 50
    assert {'pspnet', 'deeplabv3plus', 'bisenetv1', 'ocrnet', 'point_rend',
            'ddrnet', 'pidnet', 'beit', 'mae'} <= set(FAMILIES)


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_dsrl_by_inheritance(family):
    path, cfg, missing = first_usable_config(FAMILIES[family])
    if path is None:
        pytest.skip(
            f'needs {missing}: tools/setup_env.sh with '
            'MMSEG_DSRL_OPTIONAL_FAMILIES=1 installs mmdet, and mmpretrain '
            'where torch is a CUDA build (mmpretrain imports torchvision, '
            'whose wheels need CUDA torch)')
    kind = segmentor_type(cfg)
    if kind in NOT_APPLICABLE:
        if kind == 'MultimodalEncoderDecoder':
            model_cfg = apply_dsrl_override(cfg, (HR, HR))
            from mmseg.registry import MODELS
            with pytest.raises(ValueError, match='does not apply'):
                MODELS.build(model_cfg)
            return
        pytest.skip(f'DSRL not applicable: {NOT_APPLICABLE[kind]}')
    refused = [h for h in decode_head_types(cfg) if h in NOT_APPLICABLE_HEADS]
    if refused:
        from mmseg.registry import MODELS
        with pytest.raises(ValueError, match='DSRL does not apply'):
            MODELS.build(apply_dsrl_override(cfg, (HR, HR)))
        return
    assert kind in SUPPORTED_SEGMENTORS, (
        f'{path}: new segmentor type {kind}: decide whether DSRL applies '
        'and add it to SUPPORTED_SEGMENTORS or NOT_APPLICABLE')
    size, out = dsrl_step_at_smallest_size(cfg, HR, MAX_HR)
    assert {'sisr.loss_sr', 'fa.loss_fa'} <= set(out['losses'])
    assert math.isfinite(float(out['total']))
    assert all(torch.isfinite(v).all() for v in out['losses'].values())
    # Every SSSR / FA / SISR parameter learns from this step.
    assert out['dsrl_grads']
    for name, grad in out['dsrl_grads'].items():
        assert grad is not None and torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name
    assert out['pred_shape'] == (size, size)
    model = out['model']
    assert model.sisr_head.upscale_factor >= 2  # measured, not typed
