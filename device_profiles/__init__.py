"""edgekit's device profiles: one TOML file per device (``schema_version = 1``, units in key names).

This folder is the one source of truth. It sits at the top of the repository
and is installed as the package data ``edgekit.device_profiles`` (see
``pyproject.toml``), so ``pip install edgekit`` on a board lists every device.
To add a device, add ``<id>.toml`` here; ``docs/DESIGN.md`` ("Adding a device")
says which fields to fill and how to fit them.
"""
