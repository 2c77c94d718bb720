"""The documentation points at things that exist: every path a Markdown
file quotes or links (and the heading a link's anchor names), and the
metafile of every config folder."""
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
HEADING = re.compile(r'^#{1,6} (.+)$', re.MULTILINE)
FENCE = re.compile(r'^```.*?^```', re.MULTILINE | re.DOTALL)


def heading_anchors(text: str) -> set:
    """The anchors GitHub gives a Markdown file's headings: lower case,
    punctuation but hyphens and underscores dropped, spaces as hyphens,
    repeats numbered ``-1``, ``-2``, ... (code blocks have no headings)."""
    anchors, seen = set(), {}
    for title in HEADING.findall(FENCE.sub('', text)):
        title = re.sub(r'`|\*\*', '', title.strip())
        slug = re.sub(r'[^\w\- ]', '', title.lower()).replace(' ', '-')
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f'{slug}-{n}')
    return anchors


def test_heading_anchors_follow_githubs_slugs():
    text = ('# A. B: c, d (2026-11-23)\n```\n# not a heading\n```\n'
            '## A. B: c, d (2026-11-23)\n### `x_y` -- z\n')
    assert heading_anchors(text) == {'a-b-c-d-2026-11-23',
                                     'a-b-c-d-2026-11-23-1', 'x_y----z'}


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
    for link in set(LINK.findall(text)):
        if link.startswith(('http://', 'https://', 'mailto:')):
            continue
        target, _, anchor = link.partition('#')
        full = osp.join(REPO, osp.dirname(md), target) if target else osp.join(
            REPO, md)
        if not osp.exists(full):
            missing.append(f'link {target}')
        elif anchor and full.endswith('.md') and anchor not in heading_anchors(
                open(full, encoding='utf-8').read()):
            missing.append(f'anchor {link}')
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


def _load_model_index(root):
    """Read ``root/model-index.yml`` as mim does: follow ``Import`` and
    check each metafile has the structure mmseg's own metafiles have."""
    index = yaml.safe_load(open(osp.join(root, 'model-index.yml')))
    assert set(index) == {'Import'} and index['Import']
    metas = [yaml.safe_load(open(osp.join(root, rel)))
             for rel in index['Import']]
    names = set()  # a collection may be defined in another metafile
    for meta in metas:
        assert set(meta) <= {'Collections', 'Models'}
        for c in meta.get('Collections', []):
            assert isinstance(c['Name'], str) and c['Name']
            assert {'Title', 'URL'} <= set(c['Paper'])
            assert isinstance(c.get('Metadata', {}), dict)
            names.add(c['Name'])
    models = []
    for meta in metas:
        for m in meta['Models']:
            assert isinstance(m['Name'], str) and m['In Collection'] in names
            assert isinstance(m['Metadata'], dict)
            if 'Results' in m:  # one dict (or a list of them) in mmseg's
                results = m['Results']
                results = results if isinstance(results, list) else [results]
                for r in results:
                    assert {'Task', 'Dataset', 'Metrics'} <= set(r)
                    assert all(isinstance(v, (int, float))
                               for v in r['Metrics'].values())
            models.append(m)
    return models


def test_model_index_reads_like_mmsegs():
    import mmseg

    # The same reader accepts mmseg's packaged index (so the rules are
    # mmseg's) and ours, which lists every config folder.
    mmseg_root = osp.join(osp.dirname(mmseg.__file__), '.mim')
    # (mmseg's own index names a config that does not exist,
    # ddeeplabv3plus_r101-...: existence is checked for ours only.)
    assert len(_load_model_index(mmseg_root)) > 500
    ours = _load_model_index(REPO)
    for m in ours:
        assert osp.isfile(osp.join(REPO, m['Config'])), m['Config']
    configs = sorted(
        osp.relpath(p, REPO)
        for d in CONFIG_FOLDERS for p in glob.glob(osp.join(d, '*.py')))
    assert sorted(m['Config'] for m in ours) == configs
    assert all(not isinstance(m.get('Results', {}), list) for m in ours)
