"""Run records and the page tables generated from them."""
import json
import os.path as osp
import shutil

import pytest
from dsrl_test_utils import REPO, run_script

from mmseg_dsrl.analysis import run_records as rr

RECIPE = 'tools/experiments/camvid_recipe.py'


def record(key, seed, miou, **extra):
    r = dict(
        key=key, name=key.upper(), config=f'configs/{key}.py',
        cfg_options=None, input='180x240', seed=seed, iters=3000,
        split='val', mIoU=miou, per_class_iou={'IoU.pole': 1.0},
        boundary_mIoU=20.0, final_losses={'decode.loss_ce': 0.5},
        train_s=600.0, s_per_iter=0.2, curve=[[500, miou - 5], [3000, miou]],
        gflops=0.69, latency_ms=30.0, provenance={'cpu': 'x'},
        source='test')
    r.update(extra)
    return r


def test_records_are_never_overwritten_by_another(tmp_path):
    path = rr.write_record(record('lr', 0, 50.0), str(tmp_path))
    assert rr.write_record(record('lr', 0, 50.0), str(tmp_path)) == path
    with pytest.raises(FileExistsError, match='another record of this run'):
        rr.write_record(record('lr', 0, 51.0), str(tmp_path))
    assert json.loads(open(path).read())['mIoU'] == 50.0
    with pytest.raises(ValueError, match="lacks \\['provenance'"):
        bad = record('lr', 1, 1.0)
        del bad['provenance']
        rr.write_record(bad, str(tmp_path))


def test_rows_pair_seeds_and_refuse_duplicates(tmp_path):
    recs = [record('lr', 1, 42.0), record('lr', 0, 40.0),
            record('dsrl', 0, 41.0)]
    for r in recs:
        rr.write_record(r, str(tmp_path / 'a'))
    loaded = rr.load_records(str(tmp_path))
    rows = rr.rows_from_records(loaded, ['lr', 'dsrl'])
    assert [r['key'] for r in rows] == ['lr', 'dsrl']
    assert rows[0]['seed_list'] == [0, 1] and rows[0]['mious'] == [40.0, 42.0]
    rr.write_record(record('lr', 0, 40.5), str(tmp_path / 'b'))
    with pytest.raises(ValueError, match='several records of one seed'):
        rr.rows_from_records(rr.load_records(str(tmp_path)))


def test_gap_and_curve_tables():
    recs = [record('lr', 0, 40.0), record('full', 0, 44.0),
            record('dsrl', 0, 41.0), record('lr', 1, 42.0),
            record('full', 1, 45.0), record('dsrl', 1, 43.5)]
    for r in recs:
        r['_path'] = 'x/' + rr.record_name(r)
    rows = rr.rows_from_records(recs)
    gap = rr.gap_table(rows, 'lr', 'full', ['dsrl'])
    cells = [c.strip() for c in gap[-1].strip('|').split('|')]
    # seed 0: 1 of 4 points (25 %), seed 1: 1.5 of 3 (50 %)
    assert cells == ['DSRL', '0, 1', '+4.00, +3.00', '+25 %, +50 %',
                     '+38 ± 18 %']
    one = rr.gap_table(rr.rows_from_records(recs[:3]), 'lr', 'full',
                       ['dsrl'])
    assert one[-1].endswith('| +25 % | +25 % (1 seed) |')
    curve = rr.curve_table(rr.rows_from_records(recs, ['lr', 'full']))
    assert curve[1] == '| model | seeds | 500 it | 3000 it |'
    assert curve[-2] == '| LR | 0, 1 | 36.00 | 41.00 |'
    # a row's seeds are its own: a seed-0-only row is that seed's curve
    curve = rr.curve_table(rr.rows_from_records(recs[:2] + recs[3:4],
                                                ['lr', 'full']))
    assert curve[-2:] == ['| LR | 0, 1 | 36.00 | 41.00 |',
                          '| FULL | 0 | 39.00 | 44.00 |']


def test_machines_table_compares_two_batches_seed_by_seed():
    """The same rows trained on two machines: raw mIoU, and the paired
    difference within each machine, for the seeds both batches have."""
    a = [record('lr', 0, 40.0), record('lr', 1, 42.0),
         record('dsrl', 0, 41.0), record('dsrl', 1, 41.5)]
    xeon = {'cpu': 'Intel(R) Xeon(R) Processor'}
    b = [record('lr', 1, 43.0, provenance=xeon),
         record('lr', 2, 44.0, provenance=xeon),
         record('dsrl', 1, 44.5, provenance=xeon)]
    for folder, batch in (('m1', a), ('m2', b)):
        for r in batch:
            r['_path'] = f'{folder}/' + rr.record_name(r)
    raw = rr.render_block('machines dirs=m1,m2 keys=lr,dsrl', a + b)
    lines = raw.splitlines()
    assert lines[0] == ('| model (mIoU) | seeds | m1 (x) | m2 (Intel Xeon) '
                        '| second - first | mean ± std |')
    # lr: only seed 1 is in both; dsrl: seed 1
    assert lines[2] == '| LR | 1 | 42.00 | 43.00 | +1.00 | +1.00 (1 seed) |'
    assert lines[3] == '| DSRL | 1 | 41.50 | 44.50 | +3.00 | +3.00 (1 seed) |'
    paired = rr.render_block('machines dirs=m1,m2 keys=dsrl reference=lr',
                             a + b).splitlines()
    assert paired[0].startswith('| model (minus lr, same seed and machine) |')
    # seed 1: dsrl - lr is -0.50 on m1 and +1.50 on m2
    assert paired[2] == ('| DSRL | 1 | -0.50 | +1.50 | +2.00 | '
                         '+2.00 (1 seed) |')
    with pytest.raises(ValueError, match='machines needs dirs=A,B'):
        rr.render_block('machines dirs=m1 keys=lr', a + b)
    with pytest.raises(ValueError, match='give no rows'):
        rr.render_block('machines dirs=m1,m2 keys=full', a + b)


def test_pooled_table_pairs_each_seed_within_one_machine():
    """Seeds spread over two machines: each seed's difference (or gap
    share) comes from the first folder that has every row it needs, never
    from rows of two machines."""
    xeon = {'cpu': 'Intel(R) Xeon(R) Processor'}
    a = [record('lr', 0, 40.0), record('lr', 1, 42.0),
         record('full', 0, 44.0), record('full', 1, 46.0),
         record('kd', 0, 41.0), record('kd', 1, 44.0)]
    b = [record('lr', 1, 50.0, provenance=xeon),
         record('lr', 2, 44.0, provenance=xeon),
         record('full', 2, 48.0, provenance=xeon),
         record('kd', 1, 10.0, provenance=xeon),
         record('kd', 2, 45.0, provenance=xeon),
         record('paper', 2, 43.0, provenance=xeon)]
    for folder, batch in (('m1', a), ('m2', b)):
        for r in batch:
            r['_path'] = f'{folder}/' + rr.record_name(r)
    lines = rr.render_block(
        'pooled dirs=m1,m2 reference=lr keys=kd,paper', a + b).splitlines()
    assert lines[0] == ('| model | seeds (records folder) | minus LR, same '
                        'seed and machine | mean ± std |')
    # kd seed 1 is on both machines: the first folder's (+2.00) is taken,
    # never m2's kd (10.0) against m1's lr; seed 2 only pairs on m2
    assert lines[2] == ('| KD | 0, 1 (m1 (x)); 2 (m2 (Intel Xeon)) | '
                        '+1.00, +2.00, +1.00 | +1.33 ± 0.58 |')
    assert lines[3] == ('| PAPER | 2 (m2 (Intel Xeon)) | -1.00 | '
                        '-1.00 (1 seed) |')
    # reversed order: seed 1 from m2 now
    rev = rr.render_block('pooled dirs=m2,m1 reference=lr keys=kd',
                          a + b).splitlines()
    assert rev[2].startswith('| KD | 1, 2 (m2 (Intel Xeon)); 0 (m1 (x)) | '
                             '-40.00, +1.00, +1.00 |')
    gap = rr.render_block('pooled dirs=m1,m2 reference=lr high=full '
                          'keys=kd,paper', a + b).splitlines()
    # seed 0: 1 of 4 (25 %), seed 1: 2 of 4 (50 %), seed 2 (m2): 1 of 4;
    # paper seed 2: -1 of 4 (-25 %)
    assert gap[2] == ('| KD | 0, 1 (m1 (x)); 2 (m2 (Intel Xeon)) | +4.00, '
                      '+4.00, +4.00 | +25 %, +50 %, +25 % | +33 ± 14 % |')
    assert gap[3] == ('| PAPER | 2 (m2 (Intel Xeon)) | +4.00 | -25 % | '
                      '-25 % (1 seed) |')
    with pytest.raises(ValueError, match='pooled needs'):
        rr.render_block('pooled dirs=m1,m2 keys=kd', a + b)
    with pytest.raises(ValueError, match='give no rows'):
        rr.render_block('pooled dirs=m1,m2 reference=lr keys=other', a + b)


def test_page_check_names_the_first_difference(tmp_path):
    for r in [record('lr', 0, 40.0), record('dsrl', 0, 41.25)]:
        rr.write_record(r, str(tmp_path / 'records' / 'run1'))
    page = tmp_path / 'page.md'
    page.write_text('text\n<!-- generated from records: paired dir=run1 '
                    'reference=lr keys=dsrl -->\n<!-- end generated -->\n')
    argv = ['--from-records', tmp_path / 'records', '--page', page]
    assert run_script(RECIPE, [*argv, '--check']) == 1
    assert run_script(RECIPE, argv) == 0  # rewrites the block
    assert '| DSRL | +1.25 | +1.25 (1 seed) |' in page.read_text()
    assert run_script(RECIPE, [*argv, '--check']) == 0
    # A changed record is caught.
    path = tmp_path / 'records' / 'run1' / 'dsrl_seed0.json'
    changed = json.loads(path.read_text())
    changed['mIoU'] = 41.5
    path.write_text(json.dumps(changed))
    assert run_script(RECIPE, [*argv, '--check']) == 1


def test_unknown_block_options_are_refused():
    with pytest.raises(ValueError, match='unknown options'):
        rr.render_block('paired refrence=lr', [])
    with pytest.raises(ValueError, match='unknown generated table kind'):
        rr.render_block('scatter', [])


def test_records_of_a_finished_run_dir(tmp_path):
    """A run folder as the recipe leaves it: metrics.json, mmengine's text
    log and scalars (validation every 2 iterations)."""
    run = tmp_path / 'lr_seed0'
    (run / '20261130_000000' / 'vis_data').mkdir(parents=True)
    (run / '20261130_000000' / '20261130_000000.log').write_text(
        'Iter(train) [ 2/4]  lr: 1e-2  loss: 1.0  decode.loss_ce: 0.8\n'
        'Iter(val) [1/2]    eta: 0:00:01\n'
        'Iter(val) [2/2]    aAcc: 50.0  mIoU: 30.0000  mAcc: 40.0\n'
        'Iter(train) [ 4/4]  lr: 1e-2  loss: 0.6  decode.loss_ce: 0.4\n'
        'Iter(val) [2/2]    aAcc: 55.0  mIoU: 35.5000  mAcc: 45.0\n')
    # What mmengine leaves when runs share a process: another run's scalars
    # in this run's file; the curve comes from the run's own text log.
    (run / '20261130_000000' / 'vis_data' / 'scalars.json').write_text(
        '{"mIoU": 99.0, "step": 2}\n')
    metrics = {'seed': 0, 'iters': 4, 'mIoU': 35.5, 'IoU.pole': 1.5,
               'boundary3/mIoU': 20.0, 'train_s': 8.0, 's_per_iter': 2.0,
               'provenance': {'cpu': 'y'}}
    r = rr.record_from_run(str(run), 'lr', 'LR', 'c.py', None, metrics,
                           '180x240', gflops=0.7, latency_ms=30.0)
    assert r['curve'] == [[2, 30.0], [4, 35.5]]
    assert r['per_class_iou'] == {'IoU.pole': 1.5}
    assert r['final_losses'] == {'loss': 0.6, 'decode.loss_ce': 0.4}
    assert r['provenance'] == {'cpu': 'y'}
    # A recipe run without --iters trains the config's schedule: the record
    # says which (the max_iters of the config the runner dumped).
    (run / 'c.py').write_text('train_cfg = dict(max_iters=1000)\n')
    r = rr.record_from_run(str(run), 'lr', 'LR', 'configs/c.py', None,
                           dict(metrics, iters=None), '180x240')
    assert r['iters'] == 1000
    shutil.rmtree(run)


def test_teacher_rows_need_the_finished_teacher_run(tmp_path, capsys):
    """The HR-teacher row is taught by the full-resolution run of the same
    seed; without it the recipe stops before training, naming the folder."""
    with pytest.raises(FileNotFoundError,
                       match=r"finished 'full' run of that seed, expected "
                       r'in .*full_seed3 \(no metrics.json\)'):
        run_script(RECIPE, [
            '--data-root', str(tmp_path), '--work-dir',
            str(tmp_path / 'w'), '--models', 'dsrl-teacher', '--seeds', '3'
        ])


def test_portable_path_is_relative_under_the_start_only(tmp_path):
    inside = tmp_path / 'w' / 'full_seed0' / 'iter_3.pth'
    assert rr.portable_path(str(inside), str(tmp_path)) == osp.join(
        'w', 'full_seed0', 'iter_3.pth')
    outside = str(tmp_path.parent / 'elsewhere.pth')
    assert rr.portable_path(outside, str(tmp_path)) == outside
    # A sibling whose name starts like the start folder is outside it.
    sibling = str(tmp_path) + '-other/x.pth'
    assert rr.portable_path(sibling, str(tmp_path)) == sibling


def test_committed_records_name_no_absolute_path():
    """A committed record is read on other machines: the files its
    cfg_options name (a teacher's checkpoint) are relative paths."""
    records = rr.load_records(osp.join(REPO, 'results', 'camvid-bisenet'))
    absolute = [(r['_path'], k, v) for r in records
                for k, v in (r.get('cfg_options') or {}).items()
                if isinstance(v, str) and osp.isabs(v)]
    assert not absolute, absolute


def test_summary_over_several_batches_takes_each_seed_once():
    """``dirs=`` on a one-table kind: the seeds of every batch together
    (seed 0 on one machine, seed 1 on another), a seed in two refused."""
    a = [record('lr', 0, 40.0), record('dsrl', 0, 41.0)]
    b = [record('lr', 1, 42.0), record('dsrl', 1, 44.0)]
    for folder, batch in (('m1', a), ('m2', b)):
        for r in batch:
            r['_path'] = f'{folder}/' + rr.record_name(r)
    both = rr.render_block('summary dirs=m1,m2 keys=lr,dsrl', a + b)
    one = rr.render_block('summary dir=m1 keys=lr,dsrl', a + b)
    assert both != one
    assert '41.00 ± 1.41' in both and '42.50 ± 2.12' in both
    again = [dict(r, _path='m3/' + rr.record_name(r)) for r in a]
    with pytest.raises(ValueError, match='several records of one seed'):
        rr.render_block('summary dirs=m1,m3 keys=lr', a + again)
    with pytest.raises(ValueError, match='not both'):
        rr.render_block('summary dir=m1 dirs=m1,m2 keys=lr', a + b)
