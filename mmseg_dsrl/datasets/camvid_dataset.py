"""CamVid in the SegNet layout (11 classes, 360x480)."""
from typing import Dict, Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

#: Label value of the void ("Unlabelled") pixels in the SegNet annotations.
CAMVID_VOID = 11


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid (Brostow et al., 2009), 11-class SegNet version.

    Images and label maps are PNGs with identical names in two folders, e.g.
    ``data_prefix=dict(img_path='train', seg_map_path='trainannot')``. Labels
    0-10 are the classes below; 11 is void. Void is mapped to 255 (ignored by
    mmseg's losses and ``IoUMetric``) when the annotations are loaded, so
    the user's files are never rewritten.
    """
    METAINFO = dict(
        classes=('sky', 'building', 'pole', 'road', 'pavement', 'tree',
                 'sign_symbol', 'fence', 'car', 'pedestrian', 'bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
                 [0, 0, 192], [128, 128, 0], [192, 128, 128], [64, 64, 128],
                 [64, 0, 128], [64, 64, 0], [0, 128, 192]])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    @classmethod
    def get_label_map(
            cls,
            new_classes: Optional[Sequence] = None
    ) -> Optional[Dict[int, int]]:
        """mmseg's class-subset mapping, plus void (11) -> 255."""
        label_map = super().get_label_map(new_classes)
        if label_map is None:
            label_map = {i: i for i in range(len(cls.METAINFO['classes']))}
        label_map[CAMVID_VOID] = 255
        return label_map
