"""The fixes of mmseg_dsrl.upstream: what each repairs, its version guard,
the listing command, and an import that changes nothing else."""
import pytest
import torch


def test_class_weighted_cross_entropy_with_ignored_pixels():
    import torch.nn.functional as F
    from mmseg.models.losses import CrossEntropyLoss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 7, generator=g)
    label = torch.randint(0, 4, (2, 6, 7), generator=g)
    label[:, :2] = 255
    weight = [0.5, 1.0, 2.0, 3.0]
    loss = CrossEntropyLoss(class_weight=weight)(logits, label,
                                                 ignore_index=255)
    expected = F.cross_entropy(logits, label, weight=torch.tensor(weight),
                               ignore_index=255)
    torch.testing.assert_close(loss, expected)


def test_complexity_info_accepts_inputs_with_input_shape():
    """mmseg's get_flops.py passes both; the count is that of ``inputs``,
    and each argument alone behaves as in mmengine."""
    from mmengine.analysis import get_model_complexity_info
    model = torch.nn.Conv2d(3, 4, 3, bias=False)
    x = torch.zeros(1, 3, 10, 10)
    both = get_model_complexity_info(
        model, (3, 99, 99), inputs=x, show_table=False, show_arch=False)
    only_inputs = get_model_complexity_info(
        model, inputs=x, show_table=False, show_arch=False)
    only_shape = get_model_complexity_info(
        model, (3, 10, 10), show_table=False, show_arch=False)
    assert both['flops'] == only_inputs['flops'] == only_shape['flops'] \
        == 4 * 3 * 9 * 8 * 8
    with pytest.raises(ValueError, match='should be set'):
        get_model_complexity_info(model)


def test_every_fix_is_version_guarded_and_active_on_the_pinned_stack():
    from mmseg_dsrl.upstream import FIXES, list_fixes
    rows = {r['name']: r for r in list_fixes()}
    assert set(rows) == {f.name for f in FIXES}
    for fix in FIXES:
        assert fix.applies(), (fix.name, fix.installed_version())
        assert rows[fix.name]['active'], fix.name
        assert rows[fix.name]['installed'] == fix.installed_version()


def test_a_fix_outside_its_versions_is_not_applied(caplog):
    import logging

    from mmseg_dsrl.upstream import UpstreamFix, apply_upstream_fixes
    calls = []
    fix = UpstreamFix('test-only-old-mmengine', 'mmengine', ('0.1.0', '0.1.1'),
                      'a bug of releases nobody runs',
                      lambda: calls.append(1))
    missing = UpstreamFix('test-only-missing', 'no-such-distribution-x',
                          ('0.0.0', '9.0.0'), 'a package not installed',
                          lambda: calls.append(2))
    with caplog.at_level(logging.DEBUG, logger='mmseg_dsrl.upstream'):
        applied = apply_upstream_fixes([fix, missing])
    assert calls == []
    assert applied['test-only-old-mmengine'] is False
    assert applied['test-only-missing'] is False
    assert 'test-only-old-mmengine not applied: mmengine' in caplog.text


def test_listing_command_prints_every_fix(python_env):
    import subprocess

    from mmseg_dsrl.upstream import FIXES
    env, python = python_env
    out = subprocess.run([python, '-m', 'mmseg_dsrl.upstream'],
                         capture_output=True,
                         text=True,
                         env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for fix in FIXES:
        line = next(ln for ln in out.stdout.splitlines()
                    if ln.startswith(f'| {fix.name} |'))
        assert f"| {'-'.join(fix.versions)} |" in line
        assert '| yes |' in line


def test_import_loads_no_optional_or_tool_package(python_env):
    """``import mmseg_dsrl`` (what custom_imports runs) registers modules:
    it loads none of the export/compression back-ends, plotting, or the
    tool-facing helpers."""
    import subprocess
    env, python = python_env
    code = ('import sys, mmseg_dsrl; print(" ".join(sorted(sys.modules)))')
    out = subprocess.run([python, '-c', code],
                         capture_output=True,
                         text=True,
                         env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    forbidden = {'onnx', 'onnxruntime', 'torch_pruning', 'matplotlib'}
    assert not loaded & forbidden, sorted(loaded & forbidden)
    tool_facing = [m for m in loaded if m.startswith('mmseg_dsrl.analysis')]
    assert not tool_facing, tool_facing


def _imported_modules(path, package):
    """Absolute names of the modules a source file imports (relative
    imports resolved against ``package``), anywhere in the file."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            names += [base] + [f'{base}.{a.name}' for a in node.names]
    return names


def test_floors_no_lower_module_imports_a_higher_one():
    """Core (models, datasets, evaluation, engine, ops, utils, upstream)
    imports neither export, compression nor the tool-facing analysis
    package; export and compression do not import analysis -- not even
    inside a function."""
    import os

    from dsrl_test_utils import REPO
    floors = {
        'core': ('models', 'datasets', 'evaluation', 'engine', 'ops', 'utils',
                 'upstream'),
        'library': ('export', 'compression'),
    }
    above = {
        'core': ('mmseg_dsrl.export', 'mmseg_dsrl.compression',
                 'mmseg_dsrl.analysis'),
        'library': ('mmseg_dsrl.analysis', ),
    }
    root = os.path.join(REPO, 'mmseg_dsrl')
    checked = 0
    for floor, folders in floors.items():
        for folder in folders:
            for dirpath, _, files in os.walk(os.path.join(root, folder)):
                package = 'mmseg_dsrl.' + os.path.relpath(
                    dirpath, root).replace(os.sep, '.')
                for name in files:
                    if not name.endswith('.py'):
                        continue
                    checked += 1
                    for mod in _imported_modules(
                            os.path.join(dirpath, name), package):
                        assert not mod.startswith(above[floor]), (
                            f'{package}.{name[:-3]} ({floor}) imports {mod}')
    assert checked > 30


def test_no_function_code_is_rewritten():
    """Fixes wrap or re-register; none assigns a function's ``__code__``."""
    import os
    import re

    from dsrl_test_utils import REPO
    pattern = re.compile(r'\.__code__\s*=[^=]')
    for root, _, files in os.walk(os.path.join(REPO, 'mmseg_dsrl')):
        for name in files:
            if name.endswith('.py'):
                with open(os.path.join(root, name)) as f:
                    assert not pattern.search(f.read()), name
