"""A deployed runner evaluated with the config's own pipeline: the eager
runner reproduces the model's predict() mIoU exactly, and the deployment
paths are scored the same way."""
import os.path as osp

import pytest
import torch
from dsrl_test_utils import REPO, run_script
from mmengine.runner import save_checkpoint

from mmseg_dsrl.analysis.configs import load_config
from mmseg_dsrl.analysis.deployed_evaluation import (
    evaluate_runner,
    first_val_inputs,
)
from mmseg_dsrl.analysis.inference_backends import InferencePath, build_runner
from mmseg_dsrl.analysis.measurement import build_inference_model
from mmseg_dsrl.analysis.runs import set_data_root

DSRL = osp.join(
    REPO, 'configs/dsrl/'
    'dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py')


@pytest.fixture(scope='module')
def demo_model(demo_data_root):
    cfg = load_config(DSRL)
    set_data_root(cfg, demo_data_root)
    torch.manual_seed(0)
    model = build_inference_model(cfg)
    return cfg, model


def test_eager_runner_reproduces_predict(demo_model):
    """Same mIoU as the model's own predict() + the evaluator (what
    mmseg's tools/test.py computes)."""
    from mmengine.evaluator import Evaluator

    from mmseg_dsrl.analysis.deployed_evaluation import (
        _val_loader,
        segmentation_metrics,
    )
    cfg, model = demo_model
    x = first_val_inputs(cfg, model)
    ours = evaluate_runner(cfg, model, build_runner(model, InferencePath(),
                                                    x))
    loader = _val_loader(cfg)
    evaluator = Evaluator(segmentation_metrics(cfg))
    evaluator.dataset_meta = loader.dataset.metainfo
    model.test_cfg['output_sisr'] = False  # the segmentation only
    with torch.no_grad():
        for batch in loader:
            evaluator.process(model.test_step(batch))
    reference = evaluator.evaluate(len(loader.dataset))
    assert ours['mIoU'] == reference['mIoU']
    assert ours.keys() == reference.keys()


def test_max_images_stops_early(demo_model):
    cfg, model = demo_model
    x = first_val_inputs(cfg, model)
    calls = []
    runner = build_runner(model, InferencePath(), x)

    def counting(inputs):
        calls.append(inputs.shape[0])
        return runner(inputs)

    evaluate_runner(cfg, model, counting, max_images=2)
    assert sum(calls) == 2


@pytest.mark.integration
def test_tool_scores_int8_paths(demo_model, demo_data_root, tmp_path, capsys):
    """As a user runs it: eager, ONNX Runtime and its INT8 graph scored on
    the val set; the fp32 export scores what eager does."""
    pytest.importorskip('onnxruntime')
    import json
    cfg, model = demo_model
    ckpt = str(tmp_path / 'dsrl.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'scores.json'
    assert run_script('tools/deployment/evaluate_deployed.py', [
        DSRL, ckpt, '--data-root', demo_data_root, '--paths', 'onnxruntime',
        'onnxruntime-int8', '--calibration-dir',
        osp.join(demo_data_root, 'img_dir', 'train'), '--calibration-images',
        '4', '--out', out
    ]) == 0, capsys.readouterr()
    results = json.loads(out.read_text())['results']
    assert list(results) == ['eager', 'onnxruntime', 'onnxruntime-int8']
    assert abs(results['onnxruntime']['mIoU'] - results['eager']['mIoU']) \
        < 0.05
    assert 0 <= results['onnxruntime-int8']['mIoU'] <= 100
    assert '| onnxruntime-int8 |' in capsys.readouterr().out


def test_int8_without_calibration_is_refused(capsys, tmp_path):
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    assert run_script('tools/deployment/evaluate_deployed.py', [
        DSRL, ckpt, '--paths', 'openvino-int8'
    ]) == 2
    assert 'need --calibration-dir' in capsys.readouterr().err
