"""Paths as a person names them: what a path is, what a file holds, and writing one whole.

No torch here: traces are written and read by processes that never load it.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from pathlib import Path

STALE_TMP_S = 600  # a temp file of ours this old is a write that was killed: removed at the next write
_OUR_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # .NAME.<8 random>.tmp
_NOT_FILES = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
              (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))
NPY = "a numpy .npy array"
# The first bytes of the kinds of file people hand over by mistake.
_MAGIC = ((b"\x93NUMPY", NPY), (b"PK\x03\x04", "a zip archive (torch.save or numpy .npz)"),
          (b"PK\x05\x06", "an empty zip archive"), (b"\x80", "a Python pickle"), (b"\x89PNG", "a PNG image"),
          (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"))


def not_a_file(path) -> str | None:
    """Why `path` cannot be read as a regular file, in words ("file not found", "a folder,
    not a file"), or None when it can."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "file not found"
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")
    return f"{kind}, not a file"


def cannot_write(path, make_folders: bool = False) -> str | None:
    """Why a file cannot be written at `path`, in words, or None when nothing stands in the way.
    With `make_folders`, missing folders on the way will be made."""
    path = Path(path)
    if os.path.lexists(path) and (why := not_a_file(path)):
        return why
    folder = path.parent
    while make_folders and not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is read-only"
    return None


def what_is_in(path, limit: int = 64) -> str:
    """What the start of a file looks like: "a Python pickle", "text", "empty", ..."""
    with open(path, "rb") as fh:
        head = fh.read(limit)
    if not head:
        return "empty"
    found = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if found:
        return found
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.reason != "unexpected end of data":  # not a character cut off by `limit`
            return "binary data"
    return "binary data" if b"\x00" in head else "text"


def write_atomically(path, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all: a temp file beside it, then a rename.
    A failure (a full disk, a size limit, a read-only folder) raises OSError and leaves
    the old file as it was. Temp files of killed writes in that folder are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    why = cannot_write(path)
    if why:  # a rename would put the file in place of a device such as /dev/null
        raise OSError(errno.EINVAL, why, str(path))
    remove_stale_temps(path.parent)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_stale_temps(folder: Path) -> None:
    """Temp files of ours older than STALE_TMP_S: a write killed half way (a younger one may
    be another process's write in progress)."""
    for old in Path(folder).glob(".*.tmp"):
        try:
            if _OUR_TMP.match(old.name) and time.time() - old.stat().st_mtime > STALE_TMP_S:
                old.unlink()
        except OSError:
            pass
