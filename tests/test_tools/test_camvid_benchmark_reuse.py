"""tools/experiments/camvid_benchmark.py reuses finished runs instead of retraining."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from dsrl_test_utils import REPO
from mmengine.config import Config
from mmseg.registry import MODELS

CONFIG = ('configs/camvid/dsrl_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
          '180x240.py')


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'camvid_benchmark', osp.join(REPO, 'tools', 'experiments', 'camvid_benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def finished_run_dir(tmp_path):
    """A run folder as train_and_evaluate + the tool leave it."""
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.dump(str(tmp_path / osp.basename(CONFIG)))
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'iter_7.pth')
    metrics = dict(
        seed=3, iters=7, train_s=12.5, checkpoint='iter_7.pth', mIoU=41.25)
    (tmp_path / 'metrics.json').write_text(json.dumps(metrics))
    return tmp_path, model


def test_finished_run_is_reused_with_its_weights(finished_run_dir):
    run_dir, trained = finished_run_dir
    metrics, model = load_tool().finished_run(str(run_dir), CONFIG, 7)
    assert metrics['mIoU'] == 41.25 and metrics['seed'] == 3
    assert not model.training
    assert type(model).__name__ == 'DSRLEncoderDecoder'
    for name, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    # inference_model() needs the config on the model, as init_model sets it.
    assert model.cfg.model.type == 'DSRLEncoderDecoder'


def test_run_with_other_iteration_count_is_refused(finished_run_dir):
    run_dir, _ = finished_run_dir
    with pytest.raises(ValueError, match='iters=7.*iters=1000'):
        load_tool().finished_run(str(run_dir), CONFIG, 1000)


def test_folder_without_metrics_is_not_a_finished_run(tmp_path):
    assert load_tool().finished_run(str(tmp_path), CONFIG, 7) is None
