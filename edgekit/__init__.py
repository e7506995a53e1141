"""edgekit: take a trained model to an edge device and tell the truth about it."""

__version__ = "0.1.0"
