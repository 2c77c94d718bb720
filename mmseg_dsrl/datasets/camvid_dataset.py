"""CamVid in the SegNet layout (11 classes, 360x480)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .layout_checks import CheckedFolderMixin

#: Label value of the void ("Unlabelled") pixels in the SegNet annotations.
CAMVID_VOID = 11


@DATASETS.register_module()
class CamVidDataset(CheckedFolderMixin, BaseSegDataset):
    """CamVid (Brostow et al., 2009), 11-class SegNet version.

    Images and label maps are PNGs with identical names in two folders, e.g.
    ``data_prefix=dict(img_path='train', seg_map_path='trainannot')``. Labels
    0-10 are the classes below; 11 is void. Void is mapped to 255 (ignored by
    mmseg's losses and ``IoUMetric``) when the annotations are loaded, so
    the user's files are never rewritten.

    CamVid's frames come from a few video sequences, named by the file
    prefix (``0001TP``, ``0006R0``, ``0016E5``, ``Seq05VD``); frames of one
    sequence are near-duplicates, so a held-out split must leave out whole
    sequences. ``sequences`` keeps only the frames of the sequences named.

    Args:
        sequences (Sequence[str], optional): File-name prefixes (before the
            first ``_``) of the sequences to keep. Default: all frames.
        **kwargs: Those of ``mmseg.datasets.BaseSegDataset``.
    """
    layout_hint = ('CamVid in the SegNet layout: train/, trainannot/, val/, '
                   'valannot/ under data_root, label maps with the names of '
                   'their frames, values 0-10 and 11 for void')
    METAINFO = dict(
        classes=('sky', 'building', 'pole', 'road', 'pavement', 'tree',
                 'sign_symbol', 'fence', 'car', 'pedestrian', 'bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
                 [0, 0, 192], [128, 128, 0], [192, 128, 128], [64, 64, 128],
                 [64, 0, 128], [64, 64, 0], [0, 128, 192]])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 sequences: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if sequences is not None:
            if isinstance(sequences, str) or not all(
                    isinstance(q, str) and q for q in sequences):
                raise TypeError('sequences must be a list of sequence names '
                                f'(file-name prefixes), got {sequences!r}')
            sequences = list(sequences)
        self.sequences = sequences
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    @staticmethod
    def sequence_of(path: str) -> str:
        """The sequence of a frame: its file name up to the first ``_``."""
        return osp.basename(path).split('_', 1)[0]

    def load_data_list(self) -> List[dict]:
        """mmseg's listing of the folder, restricted to ``sequences``."""
        data_list = super().load_data_list()
        if self.sequences is None:
            return data_list
        found = sorted({self.sequence_of(d['img_path']) for d in data_list})
        unknown = sorted(set(self.sequences) - set(found))
        if unknown:
            raise ValueError(
                f'sequences {unknown} have no frames in '
                f'{self.data_prefix.get("img_path")}; it holds {found}')
        keep = set(self.sequences)
        return [
            d for d in data_list if self.sequence_of(d['img_path']) in keep
        ]

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
