"""`edgekit tune` (workstation): search quantization recipes, scored on held-out data and a target device."""
