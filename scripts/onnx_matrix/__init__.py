"""The ONNX conversion matrix (scripts/bench_onnx_matrix.py): cases, the two tools, judging, the pool, the report."""
