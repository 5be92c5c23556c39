"""Output files: written atomically, to regular files only, with the mode a new file gets from the umask.

``write(flag, target, data)``: ``-`` is stdout. Any other target must be a regular file or not exist yet,
in an existing directory. A directory, a device node (``/dev/full``), a FIFO, a socket or a symbolic link is
refused (UsageError, exit 2) before anything is created, and so is a target the user may not write. The data
goes to a temporary file in the same directory (created exclusively), is flushed to disk, gets the mode
``0o666 & ~umask`` (0644 under the usual umask 022; an existing file keeps its mode), and replaces the
target with ``os.replace``; on any failure the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from host_tools.quantities import bad

STDOUT = "-"
_NEW_FILE_MODE = 0o666


def _umask() -> int:
    # Linux reports it without changing it; elsewhere set-and-restore (the host tools are single-threaded
    # when they write output).
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def new_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0o666 without the umask's bits."""
    return _NEW_FILE_MODE & ~_umask()


_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISFIFO, "is a FIFO"),
    (stat.S_ISSOCK, "is a socket"),
)


def check_target(flag: str, target: str) -> int | None:
    """Refuse a target that is not a writable regular file or a new name; the mode to keep, if it exists."""
    path = Path(target)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise bad(flag, target, f"cannot be checked ({exc.strerror})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise bad(flag, target, "is a symbolic link; give the file it points to, or a new name")
        for test, what in _KINDS:
            if test(st.st_mode):
                raise bad(flag, target, f"{what}, not a regular file; give a file name (or '-' for stdout)")
        if not os.access(path, os.W_OK):
            raise bad(flag, target, "is not writable")
    parent = path.parent
    if not parent.is_dir():
        raise bad(flag, target, f"is in '{parent}', which is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise bad(flag, target, f"cannot be created: the directory '{parent}' is not writable")
    return None if st is None else stat.S_IMODE(st.st_mode)


def write(flag: str, target: str, data: bytes) -> str:
    """Write ``data`` to ``target`` ('-': stdout) as described above; returns where it went."""
    if target == STDOUT:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return "stdout"
    mode = check_target(flag, target)
    path = Path(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise bad(flag, target, f"cannot be written ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), new_file_mode() if mode is None else mode)
        check_target(flag, target)  # nothing turned into a link or a directory meanwhile
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise bad(flag, target, f"cannot be written ({exc.strerror})") from None
        raise
    _fsync_dir(path.parent)
    return str(path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
