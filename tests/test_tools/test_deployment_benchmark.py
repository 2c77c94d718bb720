"""tools/deployment/deployment_benchmark.py, run as a user runs it, on a
small ICNet: every path checked against eager fp32 and placed against its
compute bound."""
import json
import os.path as osp

import pytest
from dsrl_test_utils import REPO, run_script

TOOL = 'tools/deployment/deployment_benchmark.py'
ICNET = osp.join(REPO, 'configs/icnet/'
                 'icnet-cascade_r18-d8_1xb4-400i_dsrl-demo-256x512.py')
SMALL = [
    'model.backbone.width_multiplier=0.25', 'model.decode_head.in_channels=32',
    'model.auxiliary_head.0.in_channels=64',
    'model.auxiliary_head.1.in_channels=32'
]


def test_int8_paths_need_calibration_images(capsys):
    assert run_script(TOOL, ['--model', 'icnet', ICNET, '--paths',
                             'onnxruntime-int8']) == 2
    assert 'need --calibration-dir' in capsys.readouterr().err


@pytest.mark.integration
def test_paths_are_checked_and_bounded(demo_data_root, tmp_path):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('openvino')
    out = tmp_path / 'out'
    assert run_script(TOOL, [
        '--model', 'icnet', ICNET, *SMALL, '--paths', 'onnxruntime',
        'openvino', 'onnxruntime-int8', '--shape', '64', '128', '--rounds',
        '2', '--warmup', '1', '--calibration-dir',
        osp.join(demo_data_root, 'img_dir', 'train'), '--calibration-images',
        '4', '--out', out
    ]) == 0
    result = json.loads((out / 'deployment.json').read_text())
    rows = {r['path']: r for r in result['rows']}
    assert list(rows) == ['eager', 'onnxruntime', 'openvino',
                          'onnxruntime-int8']
    for key in ('onnxruntime', 'openvino'):
        assert rows[key]['label_agreement'] >= 99.9
        assert rows[key]['max_abs_diff'] < 1e-3
    # The INT8 graph is another computation, and its bound another rate.
    assert rows['onnxruntime-int8']['max_abs_diff'] > 0
    assert rows['onnxruntime-int8']['bound_ms'] != rows['eager']['bound_ms']
    for r in rows.values():
        assert r['x_bound'] == pytest.approx(r['latency_ms'] / r['bound_ms'])
        assert r['flops'] == rows['eager']['flops'] > 0
    assert 'x compute bound' in (out / 'deployment.md').read_text()


@pytest.mark.integration
def test_lr_input_graphs_run_on_every_path(tmp_path):
    """The LR baseline's in-graph downsampling runs on OpenVINO as on
    ONNX Runtime, with the labels of eager fp32."""
    pytest.importorskip('openvino')
    lr = osp.join(REPO, 'configs/dsrl/'
                  'lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
                  '128x256.py')
    out = tmp_path / 'out'
    assert run_script(TOOL, [
        '--model', 'lr', lr, '--paths', 'onnxruntime', 'openvino',
        '--shape', '64', '128', '--rounds', '1', '--warmup', '1', '--out',
        out
    ]) == 0
    result = json.loads((out / 'deployment.json').read_text())
    rows = {r['path']: r for r in result['rows']}
    assert list(rows) == ['eager', 'onnxruntime', 'openvino']
    assert result['skipped'] == []
    for key in ('onnxruntime', 'openvino'):
        assert rows[key]['label_agreement'] >= 99.9
        assert rows[key]['max_abs_diff'] < 1e-3
