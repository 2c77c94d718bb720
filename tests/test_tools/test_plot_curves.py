"""plot_curves.py: validation curves from run records of one or more
folders."""
from dsrl_test_utils import run_script
from mmseg_dsrl.analysis import run_records as rr


def _record(key, seed, miou):
    return dict(
        key=key, name=key.upper(), config=f'configs/{key}.py',
        cfg_options=None, input='180x240', seed=seed, iters=1000,
        split='val', mIoU=miou, per_class_iou={}, boundary_mIoU=None,
        final_losses={}, train_s=1.0, s_per_iter=0.1,
        curve=[[200, miou - 5], [1000, miou]], gflops=0.3, latency_ms=1.0,
        provenance={'cpu': 'x'}, source='test')


def test_curves_take_the_seeds_of_several_folders(tmp_path, capsys):
    rr.write_record(_record('lr', 0, 50.0), str(tmp_path / 'm1'))
    rr.write_record(_record('lr', 1, 52.0), str(tmp_path / 'm2'))
    rr.write_record(_record('dsrl', 1, 51.0), str(tmp_path / 'm2'))
    out = tmp_path / 'curves.png'
    assert run_script('tools/analysis_tools/plot_curves.py', [
        '--records', tmp_path / 'm1', tmp_path / 'm2', '--keys', 'lr',
        'dsrl', '--out', out
    ]) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '2 curves' in capsys.readouterr().out
    # dsrl's record is only in the second folder.
    assert run_script('tools/analysis_tools/plot_curves.py', [
        '--records', tmp_path / 'm1', '--keys', 'dsrl', '--out', out]) == 2
    assert "no records of ['dsrl']" in capsys.readouterr().err
