from .camvid_dataset import CAMVID_VOID, CamVidDataset
from .demo_dataset import DSRLDemoDataset
from .demo_scenes import render_scene, write_demo_dataset

__all__ = [
    'CAMVID_VOID', 'CamVidDataset', 'DSRLDemoDataset', 'render_scene',
    'write_demo_dataset'
]
