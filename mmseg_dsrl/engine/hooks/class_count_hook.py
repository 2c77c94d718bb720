"""Class counts of the model's heads checked against the dataset."""
from typing import List, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

__all__ = ['ClassCountCheckHook', 'class_count_mismatches']


def class_count_mismatches(model, classes: int) -> List[Tuple[str, int]]:
    """``(module path, num_classes)`` of every decode / auxiliary head of
    ``model`` whose class count is not ``classes``."""
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    while is_model_wrapper(model) or hasattr(model, 'module'):
        model = model.module
    wrong = []
    for name, module in model.named_modules():
        count = getattr(module, 'num_classes', None)
        if isinstance(module, BaseDecodeHead) and count != classes:
            wrong.append((name, count))
    return wrong


@HOOKS.register_module()
class ClassCountCheckHook(Hook):
    """Refuse to start when a head predicts another number of classes than
    the dataset of the loop has (before any step or evaluation, naming the
    head, both counts and the fix). ``tools/train.py`` and
    ``tools/test.py`` add it; with mmseg's own tools add
    ``custom_hooks = [dict(type='ClassCountCheckHook')]``."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        for loop_name in ('_train_loop', '_val_loop', '_test_loop'):
            loop = getattr(runner, loop_name, None)
            dataset = getattr(getattr(loop, 'dataloader', None), 'dataset',
                              None)
            classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
            if classes is None:
                continue
            wrong = class_count_mismatches(runner.model, len(classes))
            if wrong:
                heads = ', '.join(f'{n} has num_classes={c}' for n, c in wrong)
                raise ValueError(
                    f'{heads}, but the {loop_name.strip("_").split("_")[0]} '
                    f'dataset {type(dataset).__name__} has {len(classes)} '
                    f'classes {tuple(classes)[:5]}...: set num_classes='
                    f'{len(classes)} in model.decode_head (and every '
                    'auxiliary head), or use the dataset the model was made '
                    'for')
