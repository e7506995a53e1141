"""Safe file handling: never overwrite without --force, always write atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from edgekit.errors import InputError, OutputExistsError


def check_output_path(path: Path, force: bool) -> Path:
    """Validate an output path before any work starts (so a long conversion does not fail at the end)."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise InputError(f"Output {path} is a directory.", hint="Give a file path for the output.")
    if path.exists() and not force:
        raise OutputExistsError(f"Output {path} already exists.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"Output folder {parent} does not exist.", hint=f"Create it first: mkdir -p {parent}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"Output folder {parent} is not writable.", hint="Choose a folder you can write to.")
    return path


def current_umask() -> int:
    """The process umask (read from /proc when possible: os.umask() alone would have to change it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_permissions(path: Path) -> None:
    """Give a temp file/dir (mkstemp/mkdtemp make them 0600/0700) the mode a plain open()/mkdir() would."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~current_umask())


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    """Move the finished temp file into place; without ``overwrite`` never replace a file that appeared meanwhile."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic and fails if ``path`` exists: no window for another writer
    except FileExistsError as exc:
        raise OutputExistsError(
            f"Output {path} appeared while edgekit was working (another process wrote it); it was left untouched."
        ) from exc
    except OSError:  # a filesystem without hard links (FAT, some network mounts)
        if path.exists():
            raise OutputExistsError(
                f"Output {path} appeared while edgekit was working; it was left untouched."
            ) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it to ``path``, on failure delete it.

    With ``overwrite=False`` (no --force) an existing ``path`` is never replaced, even one that another
    process created after the command's up-front check.
    """
    path = Path(path)
    import tempfile  # writing only: reading a bundle on a board never pays for it

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        normal_permissions(tmp)  # not mkstemp's 0600: the user copies this file to a device
        _publish(tmp, path, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` via a temp file and rename (see :func:`atomic_path` for ``overwrite``)."""
    with atomic_path(path, overwrite) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(path: Path, text: str, overwrite: bool = True) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), overwrite)
