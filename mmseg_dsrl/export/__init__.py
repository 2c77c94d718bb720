"""Deployment export (a library API above the model code): ONNX of any
segmentor's inference graph, with the symbolics torch lacks, checked
against PyTorch with ONNX Runtime (:mod:`.onnx`; ``onnx`` and
``onnxruntime`` are imported on use)."""
