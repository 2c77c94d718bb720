"""EdgeNets ESPNetv2 checkpoints -> mmseg: key mapping, refusals, class
rows, the CLI and (with ../shared) parity with the authors' outputs."""
import os.path as osp

import pytest
import torch
from dsrl_test_utils import (
    EDGENETS_CHECKPOINTS,
    EDGENETS_REFERENCE,
    REPO,
    SHARED,
    edgenets_state_dict,
    run_script,
)

from mmseg_dsrl.model_converters import (
    CAMVID_FROM_CITYSCAPES,
    EDGENETS_CITYSCAPES_CLASSES,
    EdgeNetsConversionError,
    convert_espnetv2,
    map_classifier_rows,
)
from mmseg_dsrl.model_converters.edgenets import (
    UNUSED_EDGENETS_KEYS,
    check_loads_into_espnetv2,
)

CONVERTER = osp.join(REPO, 'tools', 'model_converters', 'edgenets2mmseg.py')


def test_every_key_maps_and_the_result_loads_strictly():
    src = edgenets_state_dict()
    out = convert_espnetv2(src)
    dropped = [k for k in src if UNUSED_EDGENETS_KEYS.match(k)]
    assert len(dropped) == 3  # one unused PReLU per down-sampler
    assert len(out) == len(src) - 3
    # every tensor is carried over unchanged, none twice
    assert sorted(id(v) for v in out.values()) == sorted(
        id(v) for k, v in src.items() if k not in dropped)
    check_loads_into_espnetv2(out, dict(widen_factor=0.5, num_classes=6))


@pytest.mark.parametrize('src_key, dst_key', [
    ('base_net.level1.act.weight', 'backbone.stem.activate.weight'),
    ('base_net.level3.2.spp_dw.3.conv.weight',
     'backbone.blocks3.2.branches.3.weight'),
    ('base_net.level4_0.inp_reinf.1.bn.running_var',
     'backbone.down4.reinforce.1.bn.running_var'),
    ('bu_dec_l4.merge_layer.3.bias', 'decode_head.conv_seg.bias'),
    ('bu_dec_l2.br.br.1.weight', 'decode_head.projections.1.activate.weight'),
    ('merge_enc_dec_l3.wt_layer.1.weight', 'decode_head.merges.1.gate.weight'),
    ('bu_br_l4.0.running_mean', 'decode_head.merge_acts.2.0.running_mean'),
])
def test_keys_land_where_the_module_structure_puts_them(src_key, dst_key):
    src = edgenets_state_dict()
    assert convert_espnetv2(src)[dst_key] is src[src_key]


def test_converted_model_runs_and_uses_the_weights():
    from mmseg.registry import MODELS
    src = edgenets_state_dict(classes=6)
    head_cfg = dict(type='ESPNetV2Head', in_channels=(16, 32, 64, 128),
                    in_index=(0, 1, 2, 3), channels=3, num_classes=6,
                    dropout_ratio=0.0, align_corners=True)
    model = MODELS.build(dict(
        type='EncoderDecoder', backbone=dict(type='ESPNetV2',
                                             widen_factor=0.5),
        decode_head=head_cfg)).eval()
    model.load_state_dict(convert_espnetv2(src), strict=True)
    x = torch.randn(1, 3, 32, 64)
    metas = [dict(img_shape=(32, 64), ori_shape=(32, 64),
                  pad_shape=(32, 64))]
    with torch.no_grad():
        out = model.encode_decode(x, metas)
    assert out.shape == (1, 6, 32, 64) and torch.isfinite(out).all()
    torch.testing.assert_close(model.decode_head.conv_seg.bias,
                               src['bu_dec_l4.merge_layer.3.bias'])


def test_a_key_of_another_model_is_refused_by_name():
    src = edgenets_state_dict()
    src['base_net.level5_0.act.weight'] = torch.ones(3)
    src['classifier.weight'] = torch.ones(3)
    with pytest.raises(EdgeNetsConversionError,
                       match=r"2 key\(s\).*base_net.level5_0.act.weight, "
                       r"classifier.weight"):
        convert_espnetv2(src)


def test_a_file_that_is_no_espnetv2_is_refused_naming_its_keys():
    with pytest.raises(EdgeNetsConversionError,
                       match=r"no 'base_net.level2_0.act.weight'.*"
                       r"backbone.conv1.weight"):
        convert_espnetv2({'backbone.conv1.weight': torch.ones(1)})
    with pytest.raises(EdgeNetsConversionError, match='dict of str'):
        convert_espnetv2({'state_dict': {'a': torch.ones(1)}})


def test_missing_and_misshapen_weights_are_named_on_load():
    out = convert_espnetv2(edgenets_state_dict())
    del out['backbone.down3.act.weight']
    out['decode_head.merges.0.gate.weight'] = torch.ones(1, 1, 1, 1)
    with pytest.raises(EdgeNetsConversionError,
                       match=r'missing backbone.down3.act.weight.*'
                       r'merges.0.gate.weight \(1, 1, 1, 1\)'):
        check_loads_into_espnetv2(out, dict(widen_factor=0.5,
                                            num_classes=6))


def test_camvid_rows_are_means_of_the_mapped_cityscapes_rows():
    sd = {
        'decode_head.conv_seg.weight': torch.randn(20, 10, 1, 1),
        'decode_head.conv_seg.bias': torch.randn(20)
    }
    out = map_classifier_rows(sd, CAMVID_FROM_CITYSCAPES)
    assert out['decode_head.conv_seg.weight'].shape == (11, 10, 1, 1)
    idx = EDGENETS_CITYSCAPES_CLASSES.index
    car = [idx('car'), idx('truck'), idx('bus')]
    torch.testing.assert_close(out['decode_head.conv_seg.weight'][8],
                               sd['decode_head.conv_seg.weight'][car].mean(0))
    torch.testing.assert_close(out['decode_head.conv_seg.bias'][0],
                               sd['decode_head.conv_seg.bias'][idx('sky')])
    with pytest.raises(ValueError, match=r"'Tram'.*\['tram'\]"):
        map_classifier_rows(sd, [('Tram', ('tram', ))])


def test_cli_writes_a_checkpoint_with_meta_and_keeps_an_existing_file(
        tmp_path):
    src = tmp_path / 'edgenets.pth'
    torch.save(edgenets_state_dict(classes=20), src)
    dst = tmp_path / 'out' / 'espnetv2.pth'
    assert run_script(CONVERTER, [str(src), str(dst), '--classes',
                                  'camvid']) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['num_classes'] == 11
    from mmseg_dsrl.model_converters.edgenets import sha256_of
    assert ckpt['meta']['source_sha256'] == sha256_of(str(src))
    before = dst.read_bytes()
    assert run_script(CONVERTER, [str(src), str(dst)]) == 1
    assert dst.read_bytes() == before


def test_checkpoint_prefix_loads_and_converts(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    src = tmp_path / 'edgenets.pth'
    torch.save(edgenets_state_dict(classes=20), src)
    ckpt = CheckpointLoader.load_checkpoint(f'edgenets-camvid://{src}')
    assert ckpt['state_dict']['decode_head.conv_seg.bias'].shape == (11, )
    ckpt = CheckpointLoader.load_checkpoint(f'edgenets://{src}')
    assert ckpt['state_dict']['decode_head.conv_seg.bias'].shape == (20, )
    fresh = CheckpointLoader.load_checkpoint(
        f'edgenets-no-classifier://{src}')
    assert fresh['meta']['num_classes'] is None
    assert sorted(set(ckpt['state_dict']) - set(fresh['state_dict'])) == [
        'decode_head.conv_seg.bias', 'decode_head.conv_seg.weight'
    ]
    assert all(fresh['state_dict'][k].equal(v)
               for k, v in ckpt['state_dict'].items()
               if not k.startswith('decode_head.conv_seg.'))


def test_a_fresh_classifier_keeps_its_own_initialisation(tmp_path):
    """Loading edgenets-no-classifier:// into a head for another label
    set sets every other weight and leaves the classifier as initialised."""
    from mmengine.runner.checkpoint import load_checkpoint
    from mmseg.registry import MODELS
    src = tmp_path / 'edgenets.pth'
    torch.save(edgenets_state_dict(classes=20), src)
    model = MODELS.build(
        dict(type='EncoderDecoder',
             backbone=dict(type='ESPNetV2', widen_factor=0.5),
             decode_head=dict(
                 type='ESPNetV2Head', in_channels=(16, 32, 64, 128),
                 in_index=(0, 1, 2, 3), channels=3, num_classes=7)))
    before = model.decode_head.conv_seg.weight.detach().clone()
    load_checkpoint(model, f'edgenets-no-classifier://{src}', strict=False)
    assert model.decode_head.conv_seg.weight.equal(before)
    converted = convert_espnetv2(edgenets_state_dict(classes=20))
    key = next(k for k in converted if k.startswith('backbone.'))
    assert model.state_dict()[key].equal(converted[key])


# ----------------------------------------------------------------------
# Parity with EdgeNets' own model code (../shared/pretrained/edgenets)
# ----------------------------------------------------------------------
needs_edgenets = pytest.mark.skipif(
    not osp.exists(EDGENETS_REFERENCE),
    reason=f'EdgeNets checkpoints and reference outputs not found at '
    f'{osp.dirname(EDGENETS_REFERENCE)} (../shared beside the checkout)')

CITYSCAPES_CONFIGS = {
    '512x256': 'espnetv2_s2.0_4xb8-80k_cityscapes-256x512.py',
    '1024x512': 'espnetv2_s2.0_4xb8-80k_cityscapes-512x1024.py',
}


@pytest.fixture(scope='module')
def reference():
    return torch.load(EDGENETS_REFERENCE, map_location='cpu', weights_only=True)


def _model(name):
    from mmengine.config import Config
    from mmseg.apis import init_model
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'espnetv2', CITYSCAPES_CONFIGS[name]))
    assert cfg.load_from == f'edgenets://{EDGENETS_CHECKPOINTS[name]}'.replace(
        SHARED, '../shared')
    return init_model(cfg, f'edgenets://{EDGENETS_CHECKPOINTS[name]}',
                      device='cpu').eval()


def _logits(model, x):
    metas = [dict(img_shape=x.shape[2:], ori_shape=x.shape[2:],
                  pad_shape=x.shape[2:])]
    with torch.no_grad():
        return model.encode_decode(x, metas)


def _camvid_input(name, rows):
    import cv2
    import numpy as np
    path = osp.join(SHARED, 'datasets', 'camvid', 'val', name)
    rgb = cv2.imread(path)[rows[0]:rows[1], :, ::-1].astype(np.float32) / 255
    rgb = (rgb - np.array([0.485, 0.456, 0.406], np.float32)) / np.array(
        [0.229, 0.224, 0.225], np.float32)
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]


@needs_edgenets
@pytest.mark.parametrize('name', sorted(CITYSCAPES_CONFIGS))
def test_converted_model_reproduces_edgenets_outputs(name, reference):
    """float32 CPU, encode_decode: max |logit difference| <= 1e-4 and every
    label equal, on the random input and two CamVid val frames."""
    model = _model(name)
    x = reference['random_1x3x128x256/input']
    out = _logits(model, x)
    ref = reference[f'{name}/random_1x3x128x256/logits']
    assert (out - ref).abs().max() <= 1e-4
    assert torch.equal(out.argmax(1), ref.argmax(1))
    frames = sorted({
        k.split('/')[2]
        for k in reference if k.startswith(f'{name}/camvid_val/')
    })
    assert len(frames) == 2
    for frame in frames:
        key = f'{name}/camvid_val/{frame}'
        out = _logits(model, _camvid_input(frame, reference[f'{key}/rows']))
        at = out.flatten(2)[:, :, reference[f'{key}/positions']]
        assert (at - reference[f'{key}/logits_at_positions']).abs().max() \
            <= 1e-4
        assert (out.mean((2, 3)) -
                reference[f'{key}/logits_mean_per_class']).abs().max() <= 1e-4
        assert torch.equal(out.argmax(1).to(torch.uint8),
                           reference[f'{key}/argmax'])


@needs_edgenets
@pytest.mark.parametrize('name', sorted(CITYSCAPES_CONFIGS))
def test_released_files_convert_completely(name):
    src = torch.load(EDGENETS_CHECKPOINTS[name], map_location='cpu',
                     weights_only=True)
    assert len(src) == 526
    out = convert_espnetv2(src)
    assert len(out) == 526 - 3
    check_loads_into_espnetv2(out, dict(widen_factor=2.0, num_classes=20))
