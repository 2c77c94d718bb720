"""The documentation points at things that exist: every path a Markdown
file quotes or links, and the metafile of every config folder."""
import glob
import os.path as osp
import re
import subprocess

import pytest
import yaml
from dsrl_test_utils import REPO

# Repository paths as commands and prose quote them (`tools/train.py`).
QUOTED = re.compile(
    r'(?<![\w./-])((?:tools|configs|docs|mmseg_dsrl|tests)/[\w./-]*\w)')
LINK = re.compile(r'\]\(([^)\s]+)\)')


def _markdown_files():
    out = subprocess.run(['git', 'ls-files', '*.md', '**/*.md'], cwd=REPO,
                         capture_output=True, text=True).stdout.split()
    found = set(out) | {
        osp.relpath(p, REPO)
        for p in glob.glob(osp.join(REPO, '**', '*.md'), recursive=True)
        if '.venv' not in p and 'work_dirs' not in p
    }
    return sorted(found)


@pytest.mark.parametrize('md', _markdown_files())
def test_paths_quoted_and_linked_in_markdown_exist(md):
    text = open(osp.join(REPO, md), encoding='utf-8').read()
    missing = []
    for path in set(QUOTED.findall(text)):
        if '*' in path:
            continue
        full = osp.join(REPO, path)
        # An output prefix (``--out docs/x`` writes docs/x.md, docs/x.png).
        if not osp.exists(full) and not glob.glob(full + '.*'):
            missing.append(path)
    for target in set(LINK.findall(text)):
        if target.startswith(('http://', 'https://', '#', 'mailto:')):
            continue
        target = target.split('#')[0]
        if not osp.exists(osp.join(REPO, osp.dirname(md), target)):
            missing.append(f'link {target}')
    assert not missing, f'{md}: {sorted(missing)}'


CONFIG_FOLDERS = sorted(
    d for d in glob.glob(osp.join(REPO, 'configs', '*'))
    if osp.isdir(d) and not osp.basename(d).startswith('_'))


@pytest.mark.parametrize('folder', CONFIG_FOLDERS, ids=osp.basename)
def test_metafile_lists_exactly_the_folders_configs(folder):
    meta = yaml.safe_load(open(osp.join(folder, 'metafile.yaml')))
    listed = [m['Config'] for m in meta['Models']]
    present = sorted(
        osp.relpath(p, REPO) for p in glob.glob(osp.join(folder, '*.py')))
    assert sorted(listed) == present
    assert len(set(m['Name'] for m in meta['Models'])) == len(listed)
    collections = {c['Name'] for c in meta['Collections']}
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert model['Name'] == osp.splitext(osp.basename(
            model['Config']))[0]
        assert 'Weights' not in model  # none are published
    for c in meta['Collections']:
        assert osp.isfile(osp.join(REPO, c['README']))


@pytest.mark.parametrize('folder', CONFIG_FOLDERS, ids=osp.basename)
def test_every_config_folder_has_a_model_page(folder):
    page = open(osp.join(folder, 'README.md')).read()
    assert page.startswith('# ')
    assert '## Citation' in page and '@inproceedings' in page
