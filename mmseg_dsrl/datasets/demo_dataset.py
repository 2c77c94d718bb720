"""The built-in synthetic demo dataset."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .demo_scenes import CLASSES, PALETTE
from .layout_checks import CheckedFolderMixin


@DATASETS.register_module()
class DSRLDemoDataset(CheckedFolderMixin, BaseSegDataset):
    """Synthetic street scenes written by ``tools/dataset_converters/make_demo_dataset.py``.

    Seven classes (sky, building, vegetation, road, lane marking, pole,
    sign); poles, lane markings and signs are 1-8 px wide, so they are lost
    at half resolution. Images and labels are ``.png`` with equal names
    under ``img_dir/{split}`` and ``ann_dir/{split}``.
    """
    METAINFO = dict(classes=CLASSES, palette=PALETTE)
    layout_hint = ('write it with tools/dataset_converters/'
                   'make_demo_dataset.py: img_dir/ and ann_dir/ under '
                   'data_root')

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
