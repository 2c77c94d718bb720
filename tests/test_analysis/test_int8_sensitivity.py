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
