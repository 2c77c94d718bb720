"""The recipes' result tables (paired differences by seed, detail means),
and the CamVid recipe reporting finished runs only."""
from dsrl_test_utils import run_script

from mmseg_dsrl.analysis import result_tables as t


def row(key, seeds, mious, details=None):
    return dict(key=key, name=key.upper(), seed_list=seeds, mious=mious,
                details=details or [{} for _ in seeds])


def test_paired_differences_match_seeds_not_positions():
    rows = [
        row('lr', [0, 1, 2], [40.0, 42.0, 44.0]),
        row('dsrl', [2, 0], [45.0, 41.5]),  # other order, seed 1 missing
    ]
    lines = t.paired_table(rows)
    assert lines[-1] == '| DSRL | +1.00, +1.50 | +1.25 ± 0.35 |'


def test_no_reference_row_no_paired_table():
    assert t.paired_table([row('dsrl', [0], [1.0])]) == []


def test_paired_table_restricted_to_keys():
    rows = [
        row('dsrl-paper', [0, 1], [44.0, 43.0]),
        row('fa-to-sr', [0, 1], [47.0, 42.5]),
        row('icnet', [0, 1], [50.0, 52.0]),
    ]
    lines = t.paired_table(rows, 'dsrl-paper', ['fa-to-sr'])
    assert lines[1] == '| model | minus DSRL-PAPER, same seed | mean ± std |'
    assert lines[3:] == ['| FA-TO-SR | +3.00, -0.50 | +1.25 ± 2.47 |']
    # no row to compare: no table at all
    assert t.paired_table(rows, 'dsrl-paper', ['fa-dot']) == []


def test_detail_table_averages_available_seeds():
    details = [{'boundary3/mIoU': 20.0, 'IoU.pole': 1.0},
               {'boundary3/mIoU': 30.0, 'IoU.pole': None}]
    line = t.detail_table([row('lr', [0, 1], [1.0, 2.0], details)])[-1]
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[:3] == ['LR', '25.00', '1.00']
    assert cells[3:] == ['', '', '', '']  # classes without values stay empty


def test_loss_table_averages_seeds_and_leaves_absent_terms_empty():
    lr = row('lr', [0, 1], [1.0, 2.0])
    lr['final_losses'] = [{'decode.loss_ce': 0.8}, {'decode.loss_ce': 0.9}]
    paper = row('dsrl-paper', [0], [1.0])
    paper['final_losses'] = [{'decode.loss_ce': 0.88, 'sisr.loss_sr': 0.11,
                              'fa.loss_fa': 0.0096}]
    lines = t.loss_table([lr, paper])
    cells = [[c.strip() for c in ln.strip('|').split('|')]
             for ln in lines[-2:]]
    assert cells[0][:4] == ['LR', '0.8500', '', '']
    assert cells[1][:4] == ['DSRL-PAPER', '0.8800', '0.1100', '0.0096']
    assert len(cells[0]) == 4  # no teacher row: no kd columns


def test_loss_table_adds_the_teachers_terms_where_a_row_has_them():
    dsrl = row('dsrl', [0], [1.0])
    dsrl['final_losses'] = [{'decode.loss_ce': 0.9}]
    taught = row('dsrl-teacher', [0], [1.0])
    taught['final_losses'] = [{'decode.loss_ce': 0.8, 'kd.loss_pixel': 0.3,
                               'kd.loss_pair': 0.1}]
    lines = t.loss_table([dsrl, taught])
    header = [c.strip() for c in lines[-4].strip('|').split('|')]
    assert header[-2:] == ['kd.loss_pair', 'kd.loss_pixel']
    cells = [[c.strip() for c in ln.strip('|').split('|')]
             for ln in lines[-2:]]
    assert cells[0][-2:] == ['', '']
    assert cells[1][-2:] == ['0.1000', '0.3000']


def test_no_train_reports_only_finished_runs(tmp_path, capsys):
    work = tmp_path / 'work'
    # It would train (and fail on the missing data) without --no-train.
    assert run_script('tools/experiments/camvid_recipe.py', [
        '--data-root', tmp_path / 'no-data', '--work-dir', work, '--models',
        'lr', 'dsrl', '--seeds', '0', '1', '--no-train'
    ]) == 0
    out = capsys.readouterr().out
    assert "== lr: no finished run for seeds [0, 1]" in out
    assert "== dsrl: no finished run for seeds [0, 1]" in out
    assert sorted(p.name for p in work.iterdir()) == []
