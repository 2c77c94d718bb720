"""Shared fixtures. Helpers live in dsrl_test_utils (importable because
pytest.ini puts this folder on the path: ``pythonpath = tests``; the name
avoids mmseg's own `tests` package)."""
import os
import sys

import pytest
import torch

from dsrl_test_utils import REPO


@pytest.fixture(autouse=True)
def _seed_and_scope():
    torch.manual_seed(0)
    from mmengine.registry import init_default_scope

    import mmseg_dsrl  # noqa: F401
    init_default_scope('mmseg')
    yield


@pytest.fixture(scope='session')
def demo_data_root(tmp_path_factory):
    """A small demo dataset (written once per test session)."""
    from mmseg_dsrl.datasets import write_demo_dataset
    root = str(tmp_path_factory.mktemp('dsrl_demo'))
    write_demo_dataset(root, num_train=8, num_val=4, height=128, width=256)
    return root


@pytest.fixture(scope='session')
def python_env():
    """Environment for subprocesses running the project's tools."""
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env['OMP_NUM_THREADS'] = env.get('OMP_NUM_THREADS', '2')
    return env, sys.executable


# Whole modules that sweep many models or run trainings: the `slow` set
# (with every `integration` test), so that `pytest -m "not slow"` is the
# quick subset for a contributor.
_SLOW_MODULES = ('test_dsrl_model_zoo.py', 'test_mixed_precision.py',
                 'test_configs.py', 'test_dsrl_init_matches_lr.py',
                 'test_benchmark_tools.py', 'test_efficiency_report.py')


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (item.get_closest_marker('integration') is not None
                or item.path.name in _SLOW_MODULES):
            item.add_marker(pytest.mark.slow)
