"""A dataset folder in the wrong layout is refused where it is read.

:class:`CheckedFolderMixin` goes before mmseg's ``BaseSegDataset`` in a
dataset's bases. When the file list is made it checks the image and label
folders exist, hold images, pair every image with a label map and every
label map with an image, and reads a few label maps (values and channels);
on the first access of each file (once per process) it checks that file's
label values and that image and labels have one size. Each error names the
folder or file, what was found and what was expected, and the fix.
"""
import os
import os.path as osp
from typing import Iterable, List, Set

import cv2
import numpy as np

__all__ = ['CheckedFolderMixin', 'DatasetLayoutError']


class DatasetLayoutError(ValueError):
    """The dataset's files are not what the dataset class reads."""


def _names(paths: Iterable[str], limit: int = 3) -> str:
    paths = sorted(paths)
    shown = ', '.join(osp.basename(p) for p in paths[:limit])
    return f'{len(paths)} ({shown}{", ..." if len(paths) > limit else ""})'


class CheckedFolderMixin:
    """Checks of a folder dataset (``img_path`` / ``seg_map_path`` prefixes)
    for :class:`mmseg.datasets.BaseSegDataset` subclasses.

    ``label_sample`` label maps are read when the file list is made; the
    others on their first access.
    """

    label_sample: int = 3
    #: How a user gets the layout right (the dataset's own docs).
    layout_hint: str = ''

    # -- the file list -------------------------------------------------
    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', '')
        hint = f' ({self.layout_hint})' if self.layout_hint else ''
        for role, folder in (('image', img_dir), ('annotation', ann_dir)):
            if folder and not osp.isdir(folder):
                raise DatasetLayoutError(
                    f'{type(self).__name__}: the {role} folder {folder} does '
                    f'not exist; data_root is {self.data_root!r}{hint}')
        data_list = super().load_data_list()
        if not data_list:
            raise DatasetLayoutError(
                f'{type(self).__name__}: no images ending in '
                f'{self.img_suffix!r} in {img_dir}{hint}')
        if not ann_dir:
            return data_list
        unlabelled = [d['img_path'] for d in data_list
                      if not osp.isfile(d['seg_map_path'])]
        if unlabelled:
            raise DatasetLayoutError(
                f'{type(self).__name__}: {_names(unlabelled)} images in '
                f'{img_dir} have no label map in {ann_dir} (expected the same '
                f'name ending in {self.seg_map_suffix!r}){hint}')
        labels = {osp.join(ann_dir, n) for n in os.listdir(ann_dir)
                  if n.endswith(self.seg_map_suffix)}
        orphans = labels - {d['seg_map_path'] for d in data_list}
        if orphans and not self.ann_file:  # a split file lists a subset
            raise DatasetLayoutError(
                f'{type(self).__name__}: {_names(orphans)} label maps in '
                f'{ann_dir} have no image in {img_dir}{hint}')
        step = max(1, len(data_list) // max(1, self.label_sample))
        for d in data_list[::step][:self.label_sample]:
            self._check_label_file(d['seg_map_path'], d['img_path'])
        return data_list

    # -- each file, at its first access ---------------------------------
    def prepare_data(self, idx: int):
        checked: Set[int] = self.__dict__.setdefault('_checked_files', set())
        if idx not in checked:
            info = self.get_data_info(idx)
            if info.get('seg_map_path'):
                self._check_label_file(info['seg_map_path'], info['img_path'])
            checked.add(idx)
        return super().prepare_data(idx)

    def _allowed_label_values(self) -> Set[int]:
        allowed = set(range(len(self.metainfo['classes'])))
        allowed |= set((self.label_map or {}).keys())
        allowed.add(int(self.ignore_index))
        return allowed

    def _check_label_file(self, seg_path: str, img_path: str) -> None:
        label = cv2.imread(seg_path, cv2.IMREAD_UNCHANGED)
        if label is None:
            raise DatasetLayoutError(f'cannot read the label map {seg_path}')
        if label.ndim == 3:
            raise DatasetLayoutError(
                f'the label map {seg_path} has {label.shape[2]} channels; '
                'expected one channel of class indices (a colour-coded '
                'label PNG must be converted to indices first)')
        found = np.unique(label)
        allowed = self._allowed_label_values()
        wrong = [int(v) for v in found if int(v) not in allowed]
        if wrong:
            n = len(self.metainfo['classes'])
            raise DatasetLayoutError(
                f'the label map {seg_path} holds values {wrong[:10]}'
                f'{" ..." if len(wrong) > 10 else ""}; '
                f'{type(self).__name__} expects class indices 0..{n - 1}'
                f'{self._extra_values_text(allowed, n)}: colour-coded '
                'labels, or labels of another class list, must be converted '
                'to these indices')
        from PIL import Image
        with Image.open(img_path) as image:
            width, height = image.size
        if (height, width) != label.shape[:2]:
            raise DatasetLayoutError(
                f'the image {img_path} is {height}x{width} but its label map '
                f'{seg_path} is {label.shape[0]}x{label.shape[1]} '
                '(H x W); they must have one size')

    @staticmethod
    def _extra_values_text(allowed: Set[int], n: int) -> str:
        extra = sorted(v for v in allowed if v >= n)
        return f' and {extra} (ignored)' if extra else ''
