from .demo_dataset import DSRLDemoDataset
from .demo_scenes import render_scene, write_demo_dataset

__all__ = ['DSRLDemoDataset', 'render_scene', 'write_demo_dataset']
