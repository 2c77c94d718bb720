"""Test (and evaluate) a segmentor, with mmseg's tools/test.py command line.

Example:
    python tools/test.py CONFIG work_dirs/x/iter_400.pth --tta
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner

import mmseg_dsrl  # noqa: F401  (registers modules, applies compat fixes)
from mmseg_dsrl.upstream import leave_process_group
from mmseg_dsrl.analysis.configs import (load_config, use_bn_without_cuda,
                                         with_class_count_check)
from mmseg_dsrl.analysis.cli import non_negative_float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='where the evaluation results are dumped as json')
    parser.add_argument(
        '--out', type=str, help='directory to save output predictions')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory where painted images will be saved')
    parser.add_argument(
        '--wait-time',
        type=non_negative_float,
        default=2,
        help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy format')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='evaluate even when the checkpoint leaves weights that '
        'inference uses unset (or of another shape); by default that is '
        'refused, with what the checkpoint probably is')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    use_bn_without_cuda(cfg)
    with_class_count_check(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ValueError('--show/--show-dir need a VisualizationHook in '
                             'default_hooks')
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError('--tta needs tta_model and tta_pipeline in the '
                             'config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        # The TTA model builds the segmentor with its own data preprocessor
        # (no crop size): a DSRL model keeps the size it measures its
        # geometry at.
        size = (cfg.model.get('data_preprocessor') or {}).get('size')
        if 'DSRL' in str(cfg.model.get('type')) and size is not None:
            cfg.model.setdefault('probe_size', tuple(size))
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()  # runner.test() then keeps these weights
    refusal = partial_checkpoint_refusal(runner.model, args.checkpoint,
                                         args.allow_partial)
    if refusal:
        leave_process_group()
        raise SystemExit(refusal)
    runner.test()
    leave_process_group()


def partial_checkpoint_refusal(model, checkpoint: str,
                               allow_partial: bool) -> str:
    """The message refusing to evaluate ``model`` when ``checkpoint``
    left weights that inference uses unset or of another shape (empty when
    it is complete for inference, or with ``allow_partial``)."""
    from mmengine.model import is_model_wrapper
    inner = model
    while is_model_wrapper(inner) or hasattr(inner, 'module'):
        inner = inner.module
    fit = getattr(inner, '_mmseg_dsrl_checkpoint_fit', None)
    if fit is None or fit.complete_for_inference or allow_partial:
        return ''
    return (f'{checkpoint} does not fit this model:\n{fit.describe()}\n'
            'Evaluating it would measure partly untrained weights; check the '
            'config and checkpoint, or pass --allow-partial to evaluate '
            'anyway.')


if __name__ == '__main__':
    main()
