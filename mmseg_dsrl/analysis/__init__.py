"""Tool-facing helpers: the top floor, imported only by ``tools/`` and
``tests/``, never by the rest of the package (``tests/test_upstream``
checks the import graph).

Modules (imported on use, not here, so that a tool loads only what it
needs):

* :mod:`.configs`: loading configs (``mmseg::`` paths), SyncBN -> BN
  without CUDA;
* :mod:`.cli`: argparse types that reject bad numbers at the command line;
* :mod:`.measurement`: inference models, FLOPs, latency, round-robin timing
  and paired ratios;
* :mod:`.inference_backends`: eager / channels-last / bf16 / compile / ONNX
  Runtime runners and their agreement with eager fp32;
* :mod:`.runs`: train-or-reuse recipes, evaluation, paired differences;
* :mod:`.training_logs`: mmengine scalars logs, loss curves, Markdown
  tables;
* :mod:`.zoo_check`: the DSRL override applied to mmseg's packaged configs.
"""
