"""Per-operator ONNX Runtime profile: arithmetic counted per node against
the layer definitions, times split per run."""
import json
import os.path as osp

import pytest
import torch
from dsrl_test_utils import run_script
from torch import nn

from mmseg_dsrl.analysis.onnx_profile import (definition_node, node_flops,
                                               op_type_rows, profile_onnx)

pytest.importorskip('onnxruntime')


def test_node_arithmetic_equals_the_layers(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 2 * 8 * 16*16 * 3*3*3
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=4),  # 2 * 8 * 16*16 * 2*3*3
        nn.ConvTranspose2d(8, 4, 2, stride=2),  # 2 * 8 * 16*16 * 4*2*2
        nn.Upsample(scale_factor=2, mode='bilinear')).eval()
    x = torch.randn(1, 3, 16, 16)
    path = str(tmp_path / 'm.onnx')
    torch.onnx.export(model, (x, ), path, input_names=['input'],
                      dynamo=False)
    nodes = profile_onnx(path, x.numpy(), runs=3, threads=1,
                         work_dir=str(tmp_path))
    by_op = {}
    for n in nodes:
        by_op.setdefault(n['op'], []).append(n)
        assert n['ms'] > 0 and n['calls_per_run'] == 1, n
    conv = sorted(n['flops'] for n in nodes if 'Conv' in n['op']
                  and n['op'] != 'ConvTranspose')
    assert conv == sorted([2.0 * 8 * 256 * 27, 2.0 * 8 * 256 * 18])
    (deconv, ) = by_op['ConvTranspose']
    assert deconv['flops'] == 2.0 * 8 * 256 * 16
    assert all(n['flops'] == 0 for n in by_op['Resize'])
    rows = op_type_rows(nodes, rate=1e9)
    assert sum(r['share'] for r in rows) == pytest.approx(100)
    assert sum(r['gflops'] for r in rows) == pytest.approx(
        sum(n['flops'] for n in nodes) / 1e9)
    for r in rows:
        if r['flops']:
            assert r['of_rate'] == pytest.approx(
                r['flops'] / (r['ms'] / 1e3) / 1e9)


def _node(op, inputs, outputs, weights=None):
    return dict(op=op, inputs=inputs, outputs=outputs,
                weights=weights or [None] * len(inputs), attrs={})


def test_nchwc_nodes_are_counted_with_the_graphs_channels():
    """What ORT's NCHWc layout does on an AVX-512 (or AVX2) CPU, written out
    so it is tested on every machine: a convolution and the activation and
    residual Add fused into it run as one node named after the tensor it
    makes + '_nchwc', whose profiled weight has its channels padded to the
    block size (11 -> 16). The count is the layer's, from the graph."""
    graph = {
        'conv_a': _node('Conv', ['x', 'wa'], ['a'], [None, [16, 3, 3, 3]]),
        'relu_a': _node('Relu', ['a'], ['ra']),
        'conv_b': _node('Conv', ['ra', 'wb'], ['b'], [None, [11, 16, 1, 1]]),
        'add': _node('Add', ['b', 'ra'], ['s']),
        'relu_b': _node('Relu', ['s'], ['out']),
    }
    profiled = ['ra_nchwc', 'out_nchwc']
    # conv_b + Add + Relu ran as 'out_nchwc'; the Add's other input is the
    # tensor that the node 'ra_nchwc' made: not traced into it.
    assert definition_node('out_nchwc', graph, profiled) is graph['conv_b']
    assert definition_node('ra_nchwc', graph, profiled) is graph['conv_a']
    assert definition_node('conv_a', graph, profiled) is graph['conv_a']
    assert definition_node('elsewhere_nchwc', graph, profiled) is None
    padded_in, padded_w = [1, 16, 8, 8], [16, 16, 1, 1]
    out = [[1, 16, 8, 8]]
    assert node_flops('Conv', [padded_in, padded_w], out,
                      graph['conv_b']) == 2.0 * 11 * 64 * 16
    # without the graph node, only the profile's (padded) shapes are known
    assert node_flops('Conv', [padded_in, padded_w], out) == 2.0 * 16 * 64 * 16
    # ConvTranspose's profile has no weight shape: the graph's, Cin from it
    deconv = _node('ConvTranspose', ['x', 'w'], ['y'], [None, [11, 11, 2, 2]])
    assert node_flops('ConvTranspose', [[1, 16, 8, 8], [11]],
                      [[1, 16, 16, 16]], deconv) == 2.0 * 11 * 64 * 11 * 4


def test_tool_profiles_a_dsrl_config(tmp_path):
    out = tmp_path / 'p'
    assert run_script('tools/deployment/profile_onnx.py', [
        'configs/dsrl/dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
        '128x256.py', '--shape', '64', '128', '--runs', '2', '--out',
        str(out)
    ]) == 0
    report = json.loads((out / 'profile.json').read_text())
    assert report['runs'] == 2 and report['matmul_rate'] > 0
    ops = {r['op'] for r in report['op_types']}
    assert 'ConvTranspose' in ops  # SSSR's deconvolutions
    assert sum(r['share'] for r in report['op_types']) == pytest.approx(100)
    assert osp.isfile(out / 'profile.md')
