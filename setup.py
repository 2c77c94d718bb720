"""mmseg-dsrl: DSRL and ICNet for MMSegmentation 1.x."""
import hashlib
import os
import os.path as osp
import platform

from setuptools import find_packages, setup


def readme() -> str:
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'README.md')
    if not osp.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


def extensions() -> dict:
    """The fused FA kernel (mmseg_dsrl/ops/csrc), when it can be built.

    Needs torch at build time (``pip install --no-build-isolation``), an
    x86-64 CPU target and a C++ compiler; ``MMSEG_DSRL_WITH_OPS=0`` skips it.
    Without it the package works unchanged (pure PyTorch FA loss, slower).
    """
    if os.environ.get('MMSEG_DSRL_WITH_OPS', '1') == '0':
        return {}
    if platform.machine().lower() not in ('x86_64', 'amd64'):
        return {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        return {}
    source = 'mmseg_dsrl/ops/csrc/affinity_l1_cpu.cpp'
    with open(osp.join(osp.dirname(osp.abspath(__file__)), source), 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    ext = CppExtension(
        'mmseg_dsrl.ops._affinity_l1_cpu',
        [source],
        # The loader compares it with the source's hash: a stale build
        # (source edited, not rebuilt) is refused, not run.
        define_macros=[('AFFINITY_L1_CPU_SOURCE_SHA256', f'"{sha}"')],
        # AVX2 + FMA (x86-64-v3), not -march=native: the build stays
        # portable across x86 servers of the last decade; the loader checks
        # the CPU before using it.
        extra_compile_args=['-O3', '-mavx2', '-mfma', '-fopenmp'],
        extra_link_args=['-fopenmp'])
    return dict(
        ext_modules=[ext],
        cmdclass={'build_ext': BuildExtension.with_options(use_ninja=False)})


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
        # scikit-image: the reference PSNR / SSIM the tests compare with
        'tests': ['pytest', 'scikit-image>=0.22'],
        # tools/compression/prune.py (dependency tracking for filter pruning)
        'prune': ['torch-pruning>=1.5,<2'],
        # ONNX export checks of ICNet
        'onnx': ['onnx', 'onnxruntime'],
        # OpenVINO deployment paths (fp32, INT8 of the quantized graph)
        'openvino': ['openvino>=2024.4'],
    },
    license='Apache License 2.0',
    zip_safe=False,
    **extensions(),
)
