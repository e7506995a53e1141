"""What to change on the export side when no backend can convert an op: one hint per op family."""

from __future__ import annotations

GENERIC = ("re-export with a standard opset and static shapes: torch.onnx.export(model, args, f, opset_version=17, "
           "do_constant_folding=True, dynamic_axes=None), then `edgekit convert` again")

_HINTS: dict[str, str] = {
    "com.microsoft": "these are onnxruntime contrib ops from onnxruntime.quantization.quantize_dynamic (or an ORT "
                     "graph optimisation saved to disk): convert the float model from before that step, and let "
                     "edgekit quantize it (--quantize dynamic or int8)",
    "If": "data-dependent control flow: export with the branch fixed (make the condition a Python constant, e.g. "
          "the sample rate, so torch.onnx.export traces one path), or fix the input that selects it",
    "Loop": "a loop with a data-dependent trip count: export with a fixed count (unroll in Python before "
            "torch.onnx.export) or run the loop outside the model",
    "Scan": "a Scan: export the recurrence with a fixed number of steps (unrolled) or as an LSTM/GRU op",
    "NonZero": "an output whose size depends on the data (TFLite needs static shapes): move this step into "
               "post-processing, outside the model",
    "NonMaxSuppression": "NMS has a data-dependent output size: export the model without NMS and run it in "
                         "post-processing",
    "Unique": "an output whose size depends on the data: move this step out of the model",
    "DFT": "compute the spectrum outside the model, or export the STFT as a Conv1d with a fixed Fourier basis",
    "STFT": "compute the spectrogram outside the model, or export it as a Conv1d with a fixed Fourier basis "
            "(e.g. nnAudio / torchaudio with onnx-friendly STFT)",
    "GridSample": "no TFLite op samples a grid; export with the warp as fixed Gather indices, or run it outside",
    "RoiAlign": "ROI pooling has no TFLite op: crop and resize in post-processing",
    "DeformConv": "deformable convolution has no TFLite op: export a plain Conv instead",
    "LSTM": "export the LSTM with a fixed sequence length and without pack_padded_sequence (no sequence_lens)",
    "GRU": "export the GRU with a fixed sequence length and without pack_padded_sequence (no sequence_lens)",
    "Resize": "export Resize with constant scales (F.interpolate(scale_factor=...)) and a standard mode",
    "MaxPool": "export MaxPool without return_indices (use MaxUnpool-free upsampling)",
    "MaxUnpool": "export upsampling as Resize/ConvTranspose instead of MaxUnpool",
    "Col2Im": "export F.fold as a ConvTranspose with a fixed kernel",
    "Bernoulli": "random ops belong to training: export in eval mode (model.eval())",
    "RandomNormal": "random ops belong to training: export in eval mode (model.eval())",
    "RandomUniform": "random ops belong to training: export in eval mode (model.eval())",
    "RandomNormalLike": "random ops belong to training: export in eval mode (model.eval())",
    "RandomUniformLike": "random ops belong to training: export in eval mode (model.eval())",
    "Dropout": "export in eval mode (model.eval()) so Dropout is an identity",
    "Det": "no TFLite determinant: compute it outside the model",
    "TfIdfVectorizer": "a text-feature op: run it outside the model and feed its output",
    "Cast": "cast to float32/int32 in the model (TFLite has no float64/string tensors)",
    "DequantizeLinear": "export the float model (before QDQ quantization) and let edgekit quantize it",
    "QuantizeLinear": "export the float model (before QDQ quantization) and let edgekit quantize it",
}


def export_hint(op: str | None, domain: str = "") -> str:
    """The export-side fix for a failure at ``op`` (its domain first: a contrib domain says more than the op)."""
    if domain and domain not in ("", "ai.onnx"):
        return _HINTS.get(domain, f"ops of the '{domain}' domain are not standard ONNX: export with standard ops "
                                  "only (torch.onnx.export without custom_opsets)")
    if op and op in _HINTS:
        return _HINTS[op]
    return GENERIC
