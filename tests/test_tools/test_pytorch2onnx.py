"""tools/deployment/pytorch2onnx.py on small inputs: DSRL, its LR baseline,
ICNet at each exit, a pruned ICNet and stock mmseg configs."""
import hashlib
import os.path as osp
import re

import pytest
from dsrl_test_utils import REPO, run_script

pytest.importorskip('onnxruntime')
pytestmark = pytest.mark.integration

TOOL = osp.join(REPO, 'tools', 'deployment', 'pytorch2onnx.py')
DSRL = osp.join(
    REPO, 'configs/dsrl/'
    'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')
LR = osp.join(
    REPO, 'configs/dsrl/'
    'lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')
ICNET = osp.join(REPO, 'configs/icnet/'
                 'icnet-cascade_r18-d8_1xb4-400i_dsrl-demo-256x512.py')
ICNET_SMALL = [
    'model.backbone.width_multiplier=0.25', 'model.decode_head.in_channels=32',
    'model.auxiliary_head.0.in_channels=64',
    'model.auxiliary_head.1.in_channels=32'
]
ROW = re.compile(r'input \((\d+), 3, (\d+), (\d+)\): max \|logits PyTorch - '
                 r'ONNX Runtime\| = (\S+), labels agree on (\S+) %')


def run_tool(argv, capsys):
    code = run_script(TOOL, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_rows(printed, sizes):
    """One agreeing row per checked input: (batch, H, W) in ``sizes``."""
    rows = ROW.findall(printed)
    assert [tuple(map(int, r[:3])) for r in rows] == sizes, printed
    for *_, diff, agree in rows:
        assert float(diff) < 1e-4 and float(agree) >= 99.9, printed


CASES = {
    'dsrl': (DSRL, []),
    'lr-baseline': (LR, []),
    'icnet-sub4': (ICNET, ICNET_SMALL + ['model.test_cfg.exit=sub4']),
    'icnet-sub24': (ICNET, ICNET_SMALL + ['model.test_cfg.exit=sub24']),
    'icnet-sub124': (ICNET, ICNET_SMALL + ['model.test_cfg.exit=sub124']),
    # Stock PSPNet pools to 3x3 and 6x6 bins from an 8x16 map: adaptive
    # pooling ONNX has no operator for (exported as exact matrix products).
    'stock-pspnet': ('mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-'
                     '512x1024.py', ['norm_cfg.type=BN']),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_export_agrees_with_pytorch(case, tmp_path, capsys):
    config, options = CASES[case]
    out = str(tmp_path / f'{case}.onnx')
    argv = [config, '--out', out, '--shape', '64', '128']
    if options:
        argv += ['--cfg-options', *options]
    code, printed, err = run_tool(argv, capsys)
    assert code == 0, printed + err
    assert osp.isfile(out)
    # Batch 1 and (dynamic) batch 2, both against PyTorch.
    check_rows(printed, [(1, 64, 128), (2, 64, 128)])


def test_pruned_icnet_exports(tmp_path, capsys):
    import torch
    from mmengine.runner import save_checkpoint
    from mmseg.registry import MODELS

    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.compression import prune_and_finetune
    cfg = load_config(
        ICNET,
        dict(
            (k, float(v) if '.' in v else int(v))
            for k, v in (o.split('=') for o in ICNET_SMALL)))
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'icnet.pth')
    save_checkpoint(dict(state_dict=MODELS.build(cfg.model).state_dict()),
                    ckpt)
    work = tmp_path / 'pruned'
    prune_and_finetune(cfg, ckpt, str(work), steps=[0.5], finetune_iters=0,
                       trace_shape=(64, 128))
    out = str(tmp_path / 'pruned.onnx')
    code, printed, err = run_tool([
        str(work / 'step1' / 'config.py'),
        str(work / 'step1' / 'pruned.pth'), '--out', out, '--shape', '64',
        '128'
    ], capsys)
    assert code == 0, printed + err
    check_rows(printed, [(1, 64, 128), (2, 64, 128)])
    import onnx
    widths = [
        i.dims[0] for i in onnx.load(out).graph.initializer
        if len(i.dims) == 4
    ]
    assert widths and max(widths) < 256  # narrower than unpruned (512 at w1)


def test_dynamic_hw_is_checked_at_another_size(tmp_path, capsys):
    out = str(tmp_path / 'dlv3p.onnx')
    code, printed, err = run_tool([
        'mmseg::deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-'
        '512x1024.py', '--out', out, '--shape', '64', '128', '--dynamic-hw',
        '--cfg-options', 'norm_cfg.type=BN'
    ], capsys)
    assert code == 0, printed + err
    check_rows(printed, [(1, 64, 128), (2, 64, 128), (1, 96, 192)])


def test_graph_with_traced_sizes_fails_dynamic_hw_and_writes_nothing(
        tmp_path, capsys):
    """The LR baseline computes its LR size in Python at trace time: with
    --dynamic-hw the check at a second size fails and --out is not
    written."""
    out = tmp_path / 'lr.onnx'
    code, printed, err = run_tool(
        [LR, '--out', str(out), '--shape', '64', '128', '--dynamic-hw'],
        capsys)
    assert code == 1
    assert 'export it without --dynamic-hw' in err
    assert 'not written' in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / 'model.onnx'
    out.write_bytes(b'keep me')
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    code, _, err = run_tool([LR, '--out', str(out)], capsys)
    assert code == 2 and 'exists' in err, err  # argparse's error
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest


def test_unexportable_op_fails_with_the_reason(tmp_path, capsys):
    """Opset 17 has no anti-aliased Resize: the error names the op."""
    out = tmp_path / 'lr17.onnx'
    code, printed, err = run_tool(
        [LR, '--out', str(out), '--shape', '64', '128', '--opset', '17'],
        capsys)
    assert code == 1
    assert 'cannot be exported to ONNX at opset 17' in err
    assert '_upsample_bilinear2d_aa' in err
    assert not out.exists()
