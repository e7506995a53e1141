"""Reading Linux's /proc "Key:   1234 kB" files (device-safe, no imports): memory figures in bytes."""

from __future__ import annotations


def kb_field_bytes(path: str, key: str) -> int | None:
    """The ``key`` line of a /proc file such as ``/proc/meminfo`` or ``/proc/PID/status``, in bytes.

    None where the file or the line is missing (not Linux, a process that has exited) or does not parse.
    """
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


__all__ = ["kb_field_bytes"]
