"""tools/analysis_tools/dsrl_panel.py: frames, masks, truth and SISR."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from dsrl_test_utils import REPO, run_script

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'dsrl_panel.py')
DEMO = 'configs/dsrl/{}bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py'


def _checkpoint(config: str, path: str) -> str:
    """The config's freshly built model, saved with the demo's metadata."""
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmseg_dsrl.datasets.demo_scenes import CLASSES, PALETTE
    cfg = Config.fromfile(osp.join(REPO, config))
    model = MODELS.build(cfg.model)
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=CLASSES, palette=PALETTE))),
        path)
    return path


def test_panel_has_a_row_per_frame_and_a_tile_per_view(
        tmp_path, demo_data_root):
    from mmseg_dsrl.datasets.demo_scenes import PALETTE
    lr, dsrl = DEMO.format('lr-input_'), DEMO.format('dsrl_')
    images = sorted(glob.glob(osp.join(demo_data_root, 'img_dir/val/*.png')))
    out = tmp_path / 'panel.png'
    assert run_script(TOOL, [
        '--images', *images[:2], '--ann-dir',
        osp.join(demo_data_root, 'ann_dir', 'val'), '--model', 'LR',
        osp.join(REPO, lr), _checkpoint(lr, str(tmp_path / 'lr.pth')),
        '--model', 'DSRL', osp.join(REPO, dsrl),
        _checkpoint(dsrl, str(tmp_path / 'dsrl.pth')), '--sisr', 'DSRL',
        '--tile-width', '96', '--out', str(out)
    ]) == 0
    image = cv2.imread(str(out))[..., ::-1]
    # input, LR mask, DSRL mask, ground truth, SISR; 4-pixel gaps; each tile
    # an 18-pixel title bar over the frame at 96 / 256 of its 128x256.
    assert image.shape == (2 * (18 + 48) + 4, 5 * 96 + 4 * 4, 3)
    dsrl_mask = image[18:18 + 48, 2 * 100:2 * 100 + 96].reshape(-1, 3)
    colours = {tuple(c) for c in np.unique(dsrl_mask, axis=0)}
    assert colours <= {tuple(c) for c in PALETTE} | {(0, 0, 0)}
    truth = image[18:18 + 48, 3 * 100:3 * 100 + 96].reshape(-1, 3)
    assert len(np.unique(truth, axis=0)) > 2


def test_sisr_label_must_name_a_dsrl_model(tmp_path, capsys,
                                          demo_data_root):
    lr = DEMO.format('lr-input_')
    image = sorted(glob.glob(osp.join(demo_data_root, 'img_dir/val/*.png')))[0]
    args = ['--images', image, '--model', 'LR', osp.join(REPO, lr),
            _checkpoint(lr, str(tmp_path / 'lr.pth')), '--out',
            str(tmp_path / 'p.png')]
    assert run_script(TOOL, args + ['--sisr', 'DSRL']) == 2
    assert "--sisr 'DSRL' is none of the --model labels ['LR']" in (
        capsys.readouterr().err)
    # An LR baseline has no SISR branch to show.
    assert run_script(TOOL, args + ['--sisr', 'LR']) == 1
    assert not (tmp_path / 'p.png').exists()
