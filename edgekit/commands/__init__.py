"""One module per CLI command; each exposes a click command registered in edgekit.cli.COMMANDS.

Command modules must import nothing heavy at module level (no TensorFlow,
onnx, or the runtime): heavy work is imported inside the command function.
"""
