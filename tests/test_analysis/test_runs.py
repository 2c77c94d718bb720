"""The recipes under tools/experiments reuse finished runs instead of
retraining (mmseg_dsrl.analysis.runs)."""
import json
import os.path as osp

import pytest
import torch
from dsrl_test_utils import REPO
from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_dsrl.analysis.runs import (
    finished_run,
    median_iteration_seconds,
    paired_differences,
    train_or_reuse,
)

CONFIG = ('configs/camvid/dsrl_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
          '180x240.py')


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
    metrics, model = finished_run(str(run_dir), CONFIG, 7)
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
        finished_run(str(run_dir), CONFIG, 1000)


def test_folder_without_metrics_is_not_a_finished_run(tmp_path):
    assert finished_run(str(tmp_path), CONFIG, 7) is None


def test_unfinished_run_is_not_overwritten(tmp_path):
    """A folder with outputs but no metrics.json (an interrupted run) stops
    the recipe instead of being trained over."""
    (tmp_path / 'iter_3.pth').write_bytes(b'partial')
    with pytest.raises(FileExistsError, match='unfinished run'):
        train_or_reuse(str(tmp_path), CONFIG, 'unused', 7, 0)
    assert (tmp_path / 'iter_3.pth').read_bytes() == b'partial'


def test_paired_differences_pair_by_position():
    assert paired_differences([3.0, 1.0], [1.0, 2.0]) == [2.0, -1.0]
    with pytest.raises(ValueError, match='equal lengths'):
        paired_differences([1.0], [1.0, 2.0])


def test_final_training_losses_average_the_last_part_of_the_newest_log(
        tmp_path):
    from mmseg_dsrl.analysis.runs import final_training_losses

    def write(stamp, lines):
        folder = tmp_path / stamp
        folder.mkdir()
        (folder / f'{stamp}.log').write_text('\n'.join(lines) + '\n')

    def line(it, ce, fa):
        return (f'11/23 01:37:20 - mmengine - INFO - Iter(train) [{it:4d}/'
                f'1000]  lr: 4.7675e-02  eta: 0:08:45  time: 0.6207  '
                f'data_time: 0.0093  loss: {ce + fa:.4f}  decode.loss_ce: '
                f'{ce:.4f}  decode.acc_seg: 54.5752  fa.loss_fa: {fa:.4e}')

    # An older log of an interrupted attempt must not be read.
    write('20261123_010000', [line(900, 9.0, 9.0)])
    write('20261123_020000', [
        line(it, ce, fa) for it, ce, fa in ((700, 5.0, 1.0), (800, 3.0, 0.5),
                                            (850, 1.0, 2e-3),
                                            (1000, 2.0, 4e-3))
    ] + ['11/23 01:38:00 - mmengine - INFO - Iter(val) [10/101] eta: 0:00'])
    losses = final_training_losses(str(tmp_path), last_fraction=0.2)
    # Iterations 850 and 1000 are in the last 20 %; 800 is not (> 800).
    assert losses['decode.loss_ce'] == pytest.approx(1.5)
    assert losses['fa.loss_fa'] == pytest.approx(3e-3)
    assert losses['loss'] == pytest.approx(1.5 + 3e-3, abs=1e-4)
    assert 'decode.acc_seg' not in losses
    assert final_training_losses(str(tmp_path / 'none')) == {}
    with pytest.raises(ValueError, match='last_fraction'):
        final_training_losses(str(tmp_path), last_fraction=0)


def test_median_iteration_seconds_leaves_out_the_start_up_iteration():
    assert median_iteration_seconds([9.0, 0.3, 0.1, 0.2]) == 0.2
    assert median_iteration_seconds([9.0, 0.3]) == 0.3
    assert median_iteration_seconds([0.4]) == 0.4
    with pytest.raises(ValueError, match='no iteration times'):
        median_iteration_seconds([])


DEMO_LR = ('configs/dsrl/lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
           '128x256.py')


def test_zero_shot_row_evaluates_load_from_before_any_step(
        tmp_path, demo_data_root):
    """The not-trained row: the weights load_from names, evaluated as the
    config evaluates; a run folder a record can be written from, reused on
    the next call."""
    from mmseg_dsrl.analysis.runs import (
        evaluate_checkpoint,
        evaluate_init_or_reuse,
    )
    from mmseg_dsrl.analysis.configs import load_config
    cfg = Config.fromfile(osp.join(REPO, DEMO_LR))
    weights = tmp_path / 'pretrained.pth'
    torch.manual_seed(1)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, weights)
    options = {'load_from': str(weights)}
    run_dir = str(tmp_path / 'zero-shot_seed0')
    metrics, model = evaluate_init_or_reuse(run_dir, osp.join(REPO, DEMO_LR),
                                            demo_data_root, 0, options)
    assert metrics['iters'] == 0 and metrics['train_s'] == 0
    reference = evaluate_checkpoint(
        load_config(osp.join(REPO, DEMO_LR), options), str(weights),
        str(tmp_path / 'ref'), demo_data_root)
    assert metrics['mIoU'] == reference['mIoU']
    saved = torch.load(weights, weights_only=True)['state_dict']
    for name, value in saved.items():
        assert torch.equal(model.state_dict()[name], value), name
    again, _ = evaluate_init_or_reuse(run_dir, osp.join(REPO, DEMO_LR),
                                      demo_data_root, 0, options)
    assert again == metrics
    with pytest.raises(ValueError, match='no load_from'):
        evaluate_init_or_reuse(str(tmp_path / 'other'),
                               osp.join(REPO, DEMO_LR), demo_data_root, 0)
