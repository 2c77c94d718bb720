"""mmseg-dsrl: DSRL and ICNet for MMSegmentation 1.x."""
import os.path as osp

from setuptools import find_packages, setup


def readme() -> str:
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'README.md')
    if not osp.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


setup(
    name='mmseg_dsrl',
    version='0.1.0',
    description='Resolution-efficient semantic segmentation for '
    'MMSegmentation 1.x: Dual Super-Resolution Learning (DSRL) and ICNet',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg_dsrl', 'mmseg_dsrl.*']),
    python_requires='>=3.8',
    # The stack that works together (see README "Installation"); mmcv must be
    # built from source with its ops: tools/setup_env.sh does it.
    install_requires=[
        'mmcv>=2.0.0,<2.2.0',
        'mmengine>=0.10,<1',
        'mmsegmentation==1.2.2',
        'ftfy',
        'regex',
        'numpy',
        'opencv-python',
    ],
    extras_require={
        'tests': ['pytest'],
        # tools/compression/prune.py (dependency tracking for filter pruning)
        'prune': ['torch-pruning>=1.5,<2'],
        # ONNX export checks of ICNet
        'onnx': ['onnx', 'onnxruntime'],
    },
    license='Apache License 2.0',
    zip_safe=False,
)
