import os
import types

import cv2
import torch
from dsrl_test_utils import seg_batch, tiny_segmentor_cfg
from mmseg.registry import MODELS

from mmseg_dsrl.engine import SISRVisualizationHook


def test_hook_saves_four_panel_strips_and_restores_test_cfg(tmp_path):
    model = MODELS.build(tiny_segmentor_cfg()).eval()
    runner = types.SimpleNamespace(
        model=model,
        work_dir=str(tmp_path),
        val_evaluator=types.SimpleNamespace(
            dataset_meta=dict(palette=[[i, i, i] for i in range(5)])))
    hook = SISRVisualizationHook(num_images=3)
    hook.before_val_epoch(runner)
    assert model.test_cfg['output_sisr'] is True
    for _ in range(2):
        inputs, samples = seg_batch(h=64, w=96)
        for i, s in enumerate(samples):
            s.set_metainfo(dict(img_path=f'img_{_}_{i}.png'))
        with torch.no_grad():
            outputs = model.predict(inputs, samples)
        hook.after_val_iter(runner, 0, None, outputs)
    hook.after_val_epoch(runner)
    assert model.test_cfg.get('output_sisr') is False
    files = sorted(os.listdir(tmp_path / 'sisr_vis'))
    assert len(files) == 3
    strip = cv2.imread(str(tmp_path / 'sisr_vis' / files[0]))
    assert strip.shape == (64, 4 * 96, 3)
