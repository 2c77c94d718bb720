"""Save input / SISR reconstruction / HR image / prediction side by side."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class SISRVisualizationHook(Hook):
    """For the first ``num_images`` validation images, write one PNG each:

    ``LR input (as the network sees it, enlarged) | SISR reconstruction |
    HR image | prediction (dataset palette)``.

    The hook switches the model's ``test_cfg.output_sisr`` on during
    validation only (and restores it), so deployment is unaffected.

    Args:
        num_images (int): How many validation images to save. Default 4.
        out_dir (str, optional): Folder; default ``{work_dir}/sisr_vis``.
        interval (int): Save every ``interval``-th validation run.
    """
    priority = 'LOW'

    def __init__(self,
                 num_images: int = 4,
                 out_dir: Optional[str] = None,
                 interval: int = 1) -> None:
        if num_images < 1 or interval < 1:
            raise ValueError(f'num_images and interval must be >= 1, got '
                             f'{num_images} and {interval}')
        self.num_images = num_images
        self.out_dir = out_dir
        self.interval = interval
        self._saved = 0
        self._runs = 0
        self._previous = None

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_val_epoch(self, runner) -> None:
        self._saved = 0
        self._runs += 1
        model = self._model(runner)
        if getattr(model, 'sisr_head', None) is None:
            return
        self._previous = model.test_cfg.get('output_sisr', False)
        model.test_cfg['output_sisr'] = True

    def after_val_epoch(self, runner, metrics=None) -> None:
        model = self._model(runner)
        if self._previous is not None:
            model.test_cfg['output_sisr'] = self._previous
            self._previous = None

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        if (self._runs - 1) % self.interval or not outputs:
            return
        model = self._model(runner)
        palette = np.array(
            runner.val_evaluator.dataset_meta.get('palette')
            or [[i * 37 % 256, i * 91 % 256, i * 53 % 256]
                for i in range(256)], np.uint8)
        out_dir = self.out_dir or osp.join(runner.work_dir, 'sisr_vis')
        for sample in outputs:
            if self._saved >= self.num_images or 'sr_image' not in sample:
                return
            os.makedirs(out_dir, exist_ok=True)
            hr = sample.hr_image.data
            lr = torch.nn.functional.interpolate(
                hr[None],
                scale_factor=model.input_scale,
                mode='bilinear',
                antialias=True,
                align_corners=False)
            lr = torch.nn.functional.interpolate(
                lr, size=hr.shape[1:], mode='nearest')[0]
            pred = palette[sample.pred_sem_seg.data[0].cpu().numpy() %
                           len(palette)]
            tiles = [
                t.clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
                for t in (lr, sample.sr_image.data, hr)
            ] + [
                cv2.resize(
                    pred, (hr.shape[2], hr.shape[1]),
                    interpolation=cv2.INTER_NEAREST)
            ]
            strip = np.concatenate(tiles, axis=1)[:, :, ::-1]  # RGB -> BGR
            name = osp.splitext(
                osp.basename(
                    sample.metainfo.get('img_path', f'{self._saved}.png')))[0]
            cv2.imwrite(osp.join(out_dir, f'{name}_sisr.png'), strip)
            self._saved += 1
