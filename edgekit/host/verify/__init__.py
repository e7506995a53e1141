"""`edgekit verify ORIGINAL CONVERTED.tflite` on the workstation: the original model as reference
(:mod:`.workstation`) and the per-layer `--explain` (:mod:`.explain`). Host-only."""
