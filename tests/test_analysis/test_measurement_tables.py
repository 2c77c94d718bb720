"""Tables of the raw timing measurements (training loop, train step,
operators, ONNX profile)."""
import pytest

from mmseg_dsrl.analysis import measurement_tables as mt


def _row(name, ms, ratio, q1, q3):
    return dict(name=name, ms=ms, ratio=ratio, ratio_q1=q1, ratio_q3=q3)


def test_run_label_drops_the_date_and_extension():
    assert mt.run_label('a/2026-11-23_train-step_run-1.json') == \
        'train-step_run-1'
    assert mt.run_label('undated.json') == 'undated'


def test_timing_table_matches_rows_by_name_and_leaves_missing_cells_blank():
    runs = {
        'a': dict(rows=[_row('LR', 276.32, 1.0, 1.0, 1.0),
                        _row('DSRL', 330.54, 1.18692, 1.1716, 1.2156)]),
        'b': dict(rows=[_row('LR', 336.0, 1.0, 1.0, 1.0),
                        _row('paper', 374.6, 1.137, 1.103, 1.147),
                        _row('DSRL', 371.07, 1.1, 1.083, 1.123)]),
    }
    lines = mt.timing_table(runs)
    assert lines[0] == ('| variant | a: ms | a: x first row (quartiles) | '
                        'b: ms | b: x first row (quartiles) |')
    assert lines[2:] == [
        '| LR | 276.3 | 1.000 | 336.0 | 1.000 |',
        '| DSRL | 330.5 | 1.187 (1.172-1.216) | 371.1 | 1.100 (1.083-1.123) |',
        '| paper |  |  | 374.6 | 1.137 (1.103-1.147) |',
    ]


def test_operators_table_lists_the_largest_additions_first():
    data = dict(operators_added=[['small', 1.0, 1.5, 0.5],
                                 ['conv_bwd', 33.05, 45.92, 12.87],
                                 ['fa', 0.0, 4.95, 4.95]])
    lines = mt.operators_table(data, top=2)
    assert lines[2:] == ['| conv_bwd | 33.05 | 45.92 | +12.87 |',
                         '| fa | 0.00 | 4.95 | +4.95 |']


def test_onnx_profile_table_puts_the_arithmetic_at_the_measured_rate():
    profile = dict(
        config='configs/x/model.py', shape=[360, 480], matmul_rate=100e9,
        op_types=[
            dict(op='Conv', ms=12.0, flops=1.0e9, share=80.0, of_rate=0.8333),
            dict(op='Resize', ms=2.0, flops=0.0, share=13.3, of_rate=0.0),
            dict(op='Add', ms=1.0, flops=0.0, share=6.7, of_rate=0.0),
        ])
    line = mt.onnx_profile_table([profile])[2]
    # 15 ms of operators; 1 GFLOP at 100 GFLOP/s is 10 ms: 1.5x.
    assert line == ('| model.py (360x480) | 15.00 | 1.000 | 100 | 10.00 | 1.5 '
                    '| 80.0 %, 83 % of the rate | Resize 13.3 %, Add 6.7 % |')


def test_int8_mixed_table_shows_each_graph_against_eager():
    record = dict(
        config='configs/x/lr.py', backend='onnxruntime', chosen_k=2,
        budget=0.5, steps=[dict(k=0), dict(k=1), dict(k=2)],
        val_mIoU={'eager': 50.0, 'onnxruntime fp32': 50.0,
                  'onnxruntime int8': 45.25,
                  'onnxruntime int8, 2 tensors fp32': 49.75},
        latency_ms={'eager': 80.0, 'onnxruntime fp32': 20.0,
                    'onnxruntime int8': 15.0,
                    'onnxruntime int8, 2 tensors fp32': 16.04})
    failed = dict(record, chosen_k=None, val_mIoU={
        k: v for k, v in record['val_mIoU'].items() if 'tensors' not in k})
    lines = mt.int8_mixed_table([record, failed])
    assert lines[2] == ('| lr.py | onnxruntime | 50.00 | 50.00 | 45.25 '
                        '(-4.75) | 2 | 49.75 (-0.25) | 20.0 | 15.0 | 16.0 |')
    assert lines[3] == ('| lr.py | onnxruntime | 50.00 | 50.00 | 45.25 '
                        '(-4.75) | none of 2 reaches 0.5 |  | 20.0 | 15.0 |  |')


def test_gpu_check_table_reads_the_sections_that_ran():
    raw = dict(
        sections=['ddp', 'fa', 'step'],
        ddp=dict(returncode=0, distributed=True, mIoU=45.33),
        fa=dict(n=32768, batch=2, fp32_matmul_flops=51.2e12, bound_s=0.00554,
                blocks={'2048': dict(seconds=0.0366, peak_bytes=1053 * 2**20),
                        '64': dict(seconds=0.4795, peak_bytes=61 * 2**20)}),
        step=dict(fp32=[_row('LR', 125.18, 1.0, 1.0, 1.0),
                        _row('DSRL', 162.82, 1.2992, 1.2942, 1.3100)]),
        amp=dict(ignored=True))  # not in sections: not shown
    assert mt.gpu_check_table(raw)[2:] == [
        '| ddp | 1-GPU torchrun, sync_bn=torch, DSRL demo | rc 0, distributed '
        'True, val mIoU 45.33 |',
        '| fa | bound, N = 32768, batch 2 | 5.54 ms at 51.2 TFLOP/s |',
        '| fa | 64-row blocks, fwd + bwd | 479.5 ms (86.6x bound), peak 61 MiB |',
        '| fa | 2048-row blocks, fwd + bwd | 36.6 ms (6.6x bound), peak 1053 '
        'MiB |',
        '| step | DeepLabV3+-R50 LR, fp32 | 125.2 ms, 1.000x LR |',
        '| step | DeepLabV3+-R50 DSRL, fp32 | 162.8 ms, 1.299x LR '
        '(1.294-1.310) |',
    ]


def test_flops_table_links_each_dsrl_config():
    row = dict(architecture='fcn_r18-d8_4xb2-80k',
               config='configs/dsrl/dsrl_fcn_r18-d8.py', dsrl_over_lr=1.0009,
               dsrl_over_stock=0.25023, dsrl=dict(flops=111.1e9),
               lr=dict(flops=111.0e9), stock=dict(flops=444.0e9))
    assert mt.flops_table([row], '../')[2] == (
        '| [fcn_r18-d8_4xb2-80k](../configs/dsrl/dsrl_fcn_r18-d8.py) | 111.1 '
        '| 111.0 | 444.0 | 1.001 | 0.250 |')


def test_icnet_benchmark_table_divides_by_the_reference():
    data = dict(shape=[1024, 2048], runs=3, reference='PSPNet',
                rows=[dict(model='ICNet sub4', gflops=68.04, params_m=24.612,
                           latency_s=4.0),
                      dict(model='PSPNet', gflops=1429.0, params_m=48.98,
                           latency_s=50.0)])
    lines = mt.icnet_benchmark_table(data)
    assert lines[0].startswith('| model (1x3x1024x2048) |')
    assert 'median of 3' in lines[0]
    assert lines[2] == '| ICNet sub4 | 68.0 | 24.61 | 4.00 | 12.5 |'
    assert lines[3].endswith('| 1.0 |')
    data['reference'] = 'missing'
    with pytest.raises(ValueError, match="reference 'missing' is not among"):
        mt.icnet_benchmark_table(data)


def test_fa_benchmark_table_marks_reference_and_failures():
    data = dict(sizes=[dict(
        n=8192, h=512, w=1024, bound_s=0.1, reference='naive',
        results={'naive': dict(time=2.5, peak_mib=2559.4),
                 'fused': dict(time=0.2, peak_mib=95.0),
                 'blocked 64': dict(error='MemoryError')},
        differences={'fused': dict(loss=1e-8, g_seg=1.7e-4, g_sr=3e-4)})])
    lines = mt.fa_benchmark_table(data)
    assert lines[2] == ('| 8192 (512x1024) | naive | 2.50 | 2559 | 25.00 | '
                        'reference |')
    assert lines[3] == ('| 8192 (512x1024) | fused | 0.20 | 95 | 2.00 | '
                        '1e-08 / 2e-04 / 3e-04 |')
    assert 'failed: MemoryError' in lines[4]


def test_compression_tables_give_models_then_paired_differences():
    data = dict(seeds=[0, 1],
                rows=[dict(arm='exit sub124', params=2.96e6, gflops=0.9812,
                           latency_ms=46.54, mious=[50.0, 52.0]),
                      dict(arm='one-shot 0.5', params=7.42e5, gflops=0.256,
                           latency_ms=35.0, mious=[49.0, 52.5])],
                paired_differences={
                    'one-shot 0.5 minus exit sub124': [-1.0, 0.5]})
    lines = mt.compression_tables(data)
    assert lines[2] == ('| exit sub124 | 2.960 | 0.981 | 46.5 | 51.00 ± 1.41 '
                        '| 50.00, 52.00 |')
    blank = lines.index('')
    assert lines[blank + 1].startswith('| paired difference (same seed) |')
    assert lines[blank + 3] == ('| one-shot 0.5 minus exit sub124 | '
                                '-1.00, +0.50 | -0.25 ± 1.06 |')
    data['rows'][1]['mious'] = [49.0]
    with pytest.raises(ValueError,
                       match=r"'one-shot 0.5' has 1 mIoU values for the 2 "
                       r'seeds \[0, 1\]'):
        mt.compression_tables(data)
