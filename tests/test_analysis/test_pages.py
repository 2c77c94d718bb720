"""Generated documentation: every page and metafile equals its records."""
import json
import os
import os.path as osp

import pytest

from dsrl_test_utils import REPO
from mmseg_dsrl.analysis import pages


def test_every_page_and_metafile_equals_its_records():
    assert pages.check_all(REPO) == []
    assert 'README.md' in pages.page_paths(REPO)


def _demo_repo(tmp_path, shown_miou):
    """A repository with one demo record, a page showing it and a
    metafile."""
    (tmp_path / 'results' / 'demo').mkdir(parents=True)
    row = {
        'model': 'DSRL', 'config': 'configs/x/dsrl_a_1xb4-400i_b.py',
        'mIoU': 61.514, 'gflops': 0.5083, 'IoU.lane_marking': 25.0,
        'IoU.pole': 19.7, 'IoU.sign': 16.4, 'iters': 400, 'seed': 0
    }
    (tmp_path / 'results' / 'demo' / 'demo_seed0.json').write_text(
        json.dumps([row]))
    (tmp_path / 'configs' / 'x').mkdir(parents=True)
    page = ('# x\n<!-- generated from records: demo '
            'file=results/demo/demo_seed0.json -->\n| stale |\n'
            '<!-- end generated -->\n')
    (tmp_path / 'configs' / 'x' / 'README.md').write_text(page)
    (tmp_path / 'configs' / 'x' / 'metafile.yaml').write_text(
        'Models:\n- Name: dsrl_a\n  Config: configs/x/dsrl_a_1xb4-400i_b.py\n'
        + ('' if shown_miou is None else
           f'  Results:\n    Metrics:\n      mIoU: {shown_miou}\n') +
        '- Name: other\n  Config: configs/x/other_1xb4-400i_b.py\n'
        '  Results:\n    Metrics:\n      mIoU: 50.0\n')
    return tmp_path


def test_demo_block_is_generated_and_the_check_names_the_page(tmp_path):
    repo = str(_demo_repo(tmp_path, 61.51))
    problems = pages.check_all(repo)
    assert problems[0].startswith('configs/x/README.md differs')
    # Results without any record: named, with the model.
    assert problems[1:] == [
        'configs/x/metafile.yaml: other shows mIoU 50.0 but no committed '
        'record of its config as shipped exists'
    ]
    pages.check_all(repo, write=True)
    text = (tmp_path / 'configs' / 'x' / 'README.md').read_text()
    assert '| [DSRL](../../configs/x/dsrl_a_1xb4-400i_b.py) | 61.51 |' in text
    assert '| stale |' not in text
    assert pages.check_all(repo)[0].startswith('configs/x/metafile.yaml')


@pytest.mark.parametrize('shown', [61.5, None])
def test_metafile_figure_must_equal_the_record_mean(tmp_path, shown):
    repo = str(_demo_repo(tmp_path, shown))
    problems = pages.metafile_differences(repo, 'configs/x/metafile.yaml',
                                          pages.shipped_results(repo))
    assert problems[0] == (f'configs/x/metafile.yaml: dsrl_a shows mIoU '
                           f'{shown}; its 1 seed(s) give 61.51')
    # The same seed recorded again (another machine) counts once.
    demo = tmp_path / 'results' / 'demo'
    first = sorted(demo.glob('*.json'))[0]
    (demo / ('z_' + first.name)).write_text(first.read_text())
    assert pages.metafile_differences(
        repo, 'configs/x/metafile.yaml',
        pages.shipped_results(repo))[0] == problems[0]


def test_deployment_block_lists_rows_and_what_was_not_run(tmp_path):
    result = {
        'rows': [{
            'model': 'm', 'path': 'onnxruntime', 'latency_ms': 20.94,
            'speedup': 5.126, 'x_bound': 1.04, 'label_agreement': 100.0,
            'max_abs_diff': 7.6e-6
        }],
        'skipped': [{'model': 'm', 'path': 'openvino', 'reason': 'refused'}]
    }
    assert pages.deployment_table(result)[2:] == [
        '| m | onnxruntime | 20.9 | 5.13x | 1.0x | 100.00 | 7.6e-06 |',
        '| m | openvino | not run: refused | | | | |'
    ]


def test_wide_deployment_table_has_a_row_per_model_and_numbered_reasons():
    def row(model, path, ms, agree):
        return dict(model=model, path=path, latency_ms=ms, x_bound=ms / 10,
                    label_agreement=agree, speedup=1.0, max_abs_diff=0.0)

    result = dict(
        rows=[row('a', 'eager', 50.0, 100.0), row('a', 'onnxruntime', 20.0,
                                                  100.0),
              row('a', 'int8', 25.0, 95.5), row('b', 'eager', 40.0, 100.0)],
        skipped=[dict(model='b', path='onnxruntime', reason='why'),
                 dict(model='b', path='int8', reason='why')])
    assert pages.deployment_wide_table(result) == [
        '| model | eager | onnxruntime | int8 | lowest label agreement (%) |',
        '|---|---|---|---|---|',
        '| a | 50.0 (5.0x) | **20.0 (2.0x)** | 25.0 (2.5x) | 95.50 (int8) |',
        '| b | **40.0 (4.0x)** | not run (1) | not run (1) | 100.00 (eager) |',
        '', '(1) why'
    ]


def test_block_without_records_folder_is_refused(tmp_path):
    os.makedirs(tmp_path / 'docs')
    text = ('<!-- generated from records: summary dir=a -->\n'
            '<!-- end generated -->\n')
    with pytest.raises(ValueError, match='names no records folder'):
        pages.regenerate_page(text, str(tmp_path), 'docs/a.md')


def test_results_tables_outside_the_study_report_are_generated():
    """README.md, the model pages and docs/ (but the study's report,
    docs/experiments.md, which keeps older measurements as measured) hold no
    hand-written results table: a table whose header names an accuracy or a
    time lies in a generated block."""
    import re

    from mmseg_dsrl.analysis.run_records import _BLOCK
    results_header = re.compile(r'mIoU|IoU|latency|\(ms\)|speed|time', re.I)
    for page in pages.page_paths(REPO):
        if page == 'docs/experiments.md':
            continue
        with open(osp.join(REPO, page)) as f:
            hand_written = _BLOCK.sub('', f.read()).splitlines()
        headers = [
            line for i, line in enumerate(hand_written)
            if line.startswith('|') and (
                i == 0 or not hand_written[i - 1].startswith('|'))
        ]
        assert [h for h in headers if results_header.search(h)] == [], page


def test_deployed_miou_rows_merge_records_of_one_checkpoint():
    records = [
        dict(config='c/a.py', checkpoint='x.pth', skipped={'openvino': 'r'},
             results={'eager': {'mIoU': 50.0}, 'onnxruntime-int8':
                      {'mIoU': 48.75}}),
        dict(config='c/a.py', checkpoint='x.pth',
             results={'eager': {'mIoU': 50.0}, 'onnxruntime-int8-conv':
                      {'mIoU': 49.5}}),
    ]
    lines = pages.deployed_miou_table(
        records, ['eager', 'onnxruntime-int8', 'onnxruntime-int8-conv',
                  'openvino', 'openvino-int8'])
    assert lines[2] == ('| a.py | 50.00 | 48.75 (-1.25) | 49.50 (-0.50) | '
                        'refused |  |')


def test_a_block_naming_rows_without_records_is_refused():
    from mmseg_dsrl.analysis.run_records import render_block
    record = dict(key='lr', name='LR', config='c.py', seed=0, iters=10,
                  split='val', mIoU=1.0, provenance={}, source='t',
                  per_class_iou={}, _path='d/lr_seed0.json')
    with pytest.raises(ValueError, match=r"no records of \['dsrl'\]"):
        render_block('summary dir=d keys=lr,dsrl', [record])
