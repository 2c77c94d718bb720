"""Per-tensor SQNR of an INT8 graph, and an operator kept in fp32 by name."""
import pytest
import torch
from torch import nn

pytest.importorskip('onnxruntime')


class Wrapped(nn.Module):
    """conv -> relu -> conv, one channel of the activation far outside the
    others' range."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 4, 3, padding=1)
        with torch.no_grad():
            self.a.bias[0] = 200.0  # channel 0 far outside the others

    def forward(self, x, mode='tensor'):
        return self.b(torch.relu(self.a(x)))


def test_sqnr_ranks_tensors_and_an_excluded_node_stays_fp32(tmp_path):
    from mmseg_dsrl.analysis.int8_sensitivity import activation_sqnr
    from mmseg_dsrl.export.onnx import export_onnx
    from mmseg_dsrl.export.quantization import quantize_int8
    torch.manual_seed(0)
    model = Wrapped().eval()
    images = [torch.randn(1, 3, 16, 16) for _ in range(4)]
    fp32 = str(tmp_path / 'fp32.onnx')
    export_onnx(model, images[0], fp32)
    int8 = quantize_int8(fp32, images, str(tmp_path / 'int8.onnx'))
    rows = activation_sqnr(fp32, int8, images)
    assert rows and all(r['qdq_db'] <= rows[-1]['qdq_db'] for r in rows)
    assert {r['tensor'] for r in rows} >= {'input', 'logits'}
    worst = next(r for r in rows if r['node'])  # a node's output
    kept = quantize_int8(fp32, images, str(tmp_path / 'kept.onnx'),
                         nodes_to_exclude=[worst['node']])
    after = {r['tensor']: r for r in activation_sqnr(fp32, kept, images)}
    # The excluded node runs in fp32: its output is quantized at most once
    # more (for its consumer), not twice.
    assert worst['tensor'] not in after or (
        after[worst['tensor']]['qdq_db'] > worst['qdq_db'])
    from mmseg_dsrl.analysis.int8_sensitivity import producers
    assert set(producers(kept)) != set(producers(int8))
    assert torch.isfinite(run(kept, images)).all()


def run(path, images):
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return torch.cat([
        torch.from_numpy(session.run(None, {'input': x.numpy()})[0])
        for x in images
    ])


def test_tool_lists_the_least_accurate_tensors(tmp_path, demo_data_root,
                                               capsys):
    import json
    import os.path as osp

    from mmengine.config import Config
    from mmseg.registry import MODELS

    from dsrl_test_utils import REPO, run_script
    config = osp.join(REPO, 'configs', 'dsrl', 'lr-input_bisenetv1_r18-d32-'
                      'w0.5_1xb4-400i_dsrl-demo-128x256.py')
    ckpt = tmp_path / 'lr.pth'
    torch.save(dict(state_dict=MODELS.build(
        Config.fromfile(config).model).state_dict()), ckpt)
    out = tmp_path / 'sqnr.json'
    assert run_script('tools/deployment/int8_sensitivity.py', [
        config, ckpt, '--shape', '64', '128', '--calibration-dir',
        osp.join(demo_data_root, 'img_dir', 'train'), '--calibration-images',
        '4', '--eval-images', '2', '--top', '3', '--out', out
    ]) == 0
    tensors = json.loads(out.read_text())['tensors']
    assert len(tensors) > 3
    printed = capsys.readouterr().out
    assert printed.count('\n| ') == 1 + 3  # the separator, then 3 rows
    assert tensors[0]['tensor'] in printed


def test_fp32_nodes_for_names_the_producer_and_consumers(tmp_path):
    import onnx

    from mmseg_dsrl.analysis.int8_sensitivity import fp32_nodes_for
    from mmseg_dsrl.export.onnx import export_onnx
    fp32 = str(tmp_path / 'fp32.onnx')
    export_onnx(Wrapped().eval(), torch.randn(1, 3, 16, 16), fp32)
    nodes = onnx.load(fp32).graph.node
    relu = next(n for n in nodes if n.op_type == 'Relu')
    # The relu's input is made by the first conv and read by the relu.
    kept = fp32_nodes_for(fp32, [relu.input[0]])
    producer = next(n.name for n in nodes if relu.input[0] in n.output)
    assert set(kept) == {producer, relu.name}
    assert fp32_nodes_for(fp32, []) == ()


def test_fewest_fp32_tensors_stops_at_the_first_count_within_budget():
    from mmseg_dsrl.analysis.int8_sensitivity import fewest_fp32_tensors
    ranked = ['t0', 't1', 't2', 't3']
    # Each tensor kept fp32 recovers 1 point of the 3.5 lost.
    steps = fewest_fp32_tensors(lambda kept: 46.5 + len(kept), ranked,
                                [4, 0, 1, 2], reference=50.0, budget=1.0)
    assert [s['k'] for s in steps] == [0, 1, 2, 4]
    assert [s['within_budget'] for s in steps] == [False] * 3 + [True]
    assert steps[-1]['tensors'] == ranked and steps[-1]['loss'] == -0.5
    none = fewest_fp32_tensors(lambda kept: 40.0, ranked, [0, 1], 50.0, 0.5)
    assert not none[-1]['within_budget'] and len(none) == 2
    with pytest.raises(ValueError, match='asks for 5 tensors'):
        fewest_fp32_tensors(lambda kept: 0.0, ranked, [5], 50.0, 0.5)


def test_mixed_precision_tool_chooses_on_the_selection_set(tmp_path,
                                                           demo_data_root):
    import json
    import os.path as osp

    from mmengine.config import Config
    from mmseg.registry import MODELS

    from dsrl_test_utils import REPO, run_script
    config = osp.join(REPO, 'configs', 'dsrl', 'lr-input_bisenetv1_r18-d32-'
                      'w0.5_1xb4-400i_dsrl-demo-128x256.py')
    ckpt = tmp_path / 'lr.pth'
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(
        Config.fromfile(config).model).state_dict()), ckpt)
    out = tmp_path / 'mixed.json'
    rc = run_script('tools/deployment/int8_mixed_precision.py', [
        config, ckpt, '--data-root', demo_data_root, '--calibration-dir',
        osp.join(demo_data_root, 'img_dir', 'train'), '--calibration-images',
        '4', '--sqnr-images', '2', '--counts', '0', '3', '--budget', '0',
        '--select-cfg-options',
        'val_dataloader.dataset.data_prefix.img_path=img_dir/train',
        'val_dataloader.dataset.data_prefix.seg_map_path=ann_dir/train',
        '--select-images', '2', '--latency-runs', '2', '--work-dir',
        tmp_path / 'graphs', '--out', out
    ])
    result = json.loads(out.read_text())
    steps = result['steps']
    assert [s['k'] for s in steps] == [0, 3][:len(steps)]
    assert rc == (0 if steps[-1]['within_budget'] else 1)
    assert result['chosen_k'] == (steps[-1]['k'] if rc == 0 else None)
    assert steps[0]['nodes'] == [] and len(steps[-1]['nodes']) >= (
        1 if steps[-1]['k'] else 0)
    ranked = [r['tensor'] for r in result['ranking']]
    assert steps[-1]['tensors'] == ranked[:steps[-1]['k']]
    val = result['val_mIoU']
    # fp32 ONNX Runtime scores what eager PyTorch scores.
    assert abs(val['onnxruntime fp32'] - val['eager']) < 0.05
    assert set(result['latency_ms']) == set(val)
    assert (tmp_path / 'graphs' / 'model_int8.onnx').is_file()


def test_fp32_nodes_belong_to_an_int8_path():
    from mmseg_dsrl.analysis.inference_backends import InferencePath
    with pytest.raises(ValueError, match="fp32_nodes keeps nodes of an INT8 "
                       "graph in fp32; precision is 'fp32'"):
        InferencePath('onnxruntime', 'fp32', fp32_nodes=('a', )).check('cpu')
    path = InferencePath('onnxruntime', 'int8', fp32_nodes=('a', 'b'))
    path.check('cpu')
    assert path.name == 'onnxruntime int8 2 nodes fp32'
