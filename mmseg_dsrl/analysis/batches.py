"""The one random training batch of the tools and tests."""
from typing import Tuple

import torch
from mmengine.config import Config


def synthetic_batch(num_classes: int,
                    hr_size: Tuple[int, int],
                    batch: int = 2,
                    seed: int = 0) -> dict:
    """A data batch as mmseg's loaders give it: uint8 HR images, HR labels
    (and edge maps, which PIDNet's head reads)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    h, w = hr_size
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g,
                                    dtype=torch.uint8))
        sample = SegDataSample(
            metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                          pad_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, num_classes, (1, h, w), generator=g))
        sample.gt_edge_map = PixelData(data=torch.randint(
            0, 2, (1, h, w), generator=g))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def crop_size(cfg: Config) -> Tuple[int, int]:
    """The HR training crop a config's batches have: the data
    preprocessor's ``size``, else the top-level ``crop_size``."""
    size = cfg.model.data_preprocessor.get('size') or cfg.get('crop_size')
    if size is None:
        raise ValueError('the config names no crop size (model.'
                         'data_preprocessor.size or crop_size)')
    return tuple(size)


def config_batch(cfg: Config, batch: int, seed: int = 0) -> dict:
    """:func:`synthetic_batch` at the config's crop size and classes."""
    return synthetic_batch(cfg.model.decode_head.num_classes, crop_size(cfg),
                           batch, seed)
