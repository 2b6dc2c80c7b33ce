"""Writing (and opening) files safely: one place for presets and every export. No Qt.

    atomic_write("talk/fig.png", data)            # bytes, or a function writing to a binary file
    with StagedWrites() as staged:                # several files, all or nothing
        staged.add("a.csv", csv_bytes)
        staged.add("b.gif", gif_bytes)
        staged.commit()

What a write does, and why:
- The data goes to a temporary file in the target's folder, named `.rgl-<pid>-<8 hex>.tmp`: a
  short fixed pattern, so a long but legal target name (up to the 255-byte limit) still has a
  temporary name far below that limit. The file is flushed and fsync'ed, then `os.replace`d over
  the target, so a reader sees the old file or the new one, never half of one.
- On any failure, Ctrl+C (KeyboardInterrupt) and SystemExit included, the temporary file is
  removed and the old file is untouched. A process killed outright (SIGKILL, power loss) leaves
  its temporary file behind: the next write in that folder removes temporary files of the
  pattern whose process is gone (POSIX only; a pid reused by a live process keeps its file).
- Permissions are those of a normal save: a new file gets 0o666 minus the umask (the kernel
  applies it), an existing file keeps its mode (and, where allowed, its owner).
- A symlink is written THROUGH: the file it points to is replaced, the link stays a link.
- Refused before anything is written, each with a message naming the file: an existing target
  that is read-only (no write permission bit, even for root: we do not overwrite it silently),
  anything that is not a regular file (a folder, a FIFO, a device, a socket), a symlink loop, a
  missing folder, a file name over the limit, an empty name.
- Every OSError becomes a `FileWriteError` (a ValueError) with one line naming the file;
  presets wrap it in PresetError, exports in ExportError / HeadlessError.

Reading: `check_regular_file(path)` refuses a missing file, a folder, a FIFO, a device... before
anything opens it (opening a FIFO blocks until a writer appears), and `open_regular_nonblocking`
is an `opener` for `open()` that re-checks on the open file descriptor (no race with a file
swapped in between) without ever blocking.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Union

TEMP_PREFIX = ".rgl-"
TEMP_SUFFIX = ".tmp"
TEMP_NAME = re.compile(r"^\.rgl-([0-9]{1,10})-[0-9a-f]{8}\.tmp$")  # what remove_stale_temp_files removes
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems

Data = Union[bytes, bytearray, memoryview, Callable[[BinaryIO], None]]


class FileWriteError(ValueError):
    """A file could not be written. `str()` is one line naming the file.

    `path` is the path as given, `reason` the problem alone (e.g. "it is read-only"), for callers
    that word their own message around it.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"cannot write {str(path)!r}: {self.reason}")


class FileReadError(ValueError):
    """A file cannot be read (missing, not a regular file, no permission...). Names the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"cannot read {str(path)!r}: {self.reason}")


# --- what a path is ------------------------------------------------------------------------------
def kind_of(mode: int) -> str:
    """'a folder', 'a FIFO (named pipe)', ... for a stat mode that is not a regular file."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _reason(exc: OSError) -> str:
    """The OS's words for an error, without repeating the file name."""
    import errno

    if exc.errno == errno.ELOOP:
        return "symlink loop (a link that points back to itself)"
    if exc.errno == errno.ENAMETOOLONG:
        return f"file name too long (at most {NAME_MAX} bytes per name)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or str(exc) or type(exc).__name__


def _check_name(path: Path, text: str, error: type) -> None:
    if not text:
        raise error(path, "no file name given")
    if "\x00" in text:
        raise error(path, "the name contains a NUL character")
    name = os.fsencode(path.name) if path.name else b""
    if len(name) > NAME_MAX:
        raise error(path, f"file name too long ({len(name)} bytes; at most {NAME_MAX})")


def check_regular_file(path: str | os.PathLike) -> Path:
    """The path, if it names an existing regular file (a symlink to one is fine). Else
    FileReadError with the reason: no such file, a folder, a FIFO, a device, a symlink loop...
    Nothing is opened (opening a FIFO would block)."""
    text = os.fspath(path)
    path = Path(text)
    _check_name(path, text, FileReadError)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileReadError(path, "no such file") from None
    except NotADirectoryError:
        raise FileReadError(path, "no such file (a part of the path is not a folder)") from None
    except OSError as exc:
        raise FileReadError(path, _reason(exc)) from None
    if not stat.S_ISREG(mode):
        raise FileReadError(path, f"it is {kind_of(mode)}, not a file")
    return path


def open_regular_nonblocking(path, flags: int) -> int:
    """An `opener` for open(): O_NONBLOCK (so a FIFO swapped in after the check cannot block),
    then refuse anything but a regular file on the descriptor itself."""
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise IsADirectoryError(21, f"it is {kind_of(mode)}, not a file") if stat.S_ISDIR(mode) \
                else OSError(f"it is {kind_of(mode)}, not a file")
    except BaseException:
        os.close(fd)
        raise
    return fd


# --- where a write goes --------------------------------------------------------------------------
@dataclass(frozen=True)
class WriteTarget:
    """A checked destination: `path` as given, `real` the file actually replaced (a symlink's
    target), `mode` / `owner` of the existing file (None for a new file)."""

    path: Path
    real: Path
    mode: int | None
    owner: tuple[int, int] | None

    @property
    def existed(self) -> bool:
        return self.mode is not None


def check_target(path: str | os.PathLike) -> WriteTarget:
    """Check that `path` can be written, without writing anything. FileWriteError otherwise."""
    text = os.fspath(path)
    path = Path(text)
    _check_name(path, text, FileWriteError)
    try:
        info = os.stat(path)  # follows symlinks: the file a save through the link replaces
    except FileNotFoundError:
        info = None  # a new file (or a dangling link: its target is created)
    except NotADirectoryError:
        raise FileWriteError(path, "a part of the path is not a folder") from None
    except OSError as exc:  # ELOOP, ENAMETOOLONG, EACCES (a folder without search permission)
        raise FileWriteError(path, _reason(exc)) from None
    try:
        real = Path(os.path.realpath(path))
    except (OSError, RuntimeError) as exc:
        raise FileWriteError(path, _reason(exc) if isinstance(exc, OSError) else str(exc)) from None
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            raise FileWriteError(path, f"it is {kind_of(info.st_mode)}, not a file")
        # Read-only: no write bit at all (root could write it anyway), or none for us.
        if not info.st_mode & 0o222 or not os.access(real, os.W_OK):
            raise FileWriteError(path, "it is read-only (change its permissions or choose another name)")
    _check_name(real, os.fspath(real), FileWriteError)
    folder = real.parent
    try:
        folder_mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise FileWriteError(path, f"folder {str(folder)!r} does not exist") from None
    except OSError as exc:
        raise FileWriteError(path, f"folder {str(folder)!r}: {_reason(exc)}") from None
    if not stat.S_ISDIR(folder_mode):
        raise FileWriteError(path, f"{str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):  # the temporary file is created there
        raise FileWriteError(path, f"permission denied (cannot create files in folder {str(folder)!r})")
    if info is None:
        return WriteTarget(path, real, None, None)
    return WriteTarget(path, real, stat.S_IMODE(info.st_mode) & 0o777, (info.st_uid, info.st_gid))


# --- temporary files -----------------------------------------------------------------------------
def temp_name() -> str:
    """`.rgl-<pid>-<8 hex>.tmp`: at most 29 characters, whatever the target is called."""
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _create_temp(folder: Path, mode: int | None) -> tuple[int, Path]:
    """A new, empty temporary file in `folder` (O_EXCL: never an existing file or link)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _attempt in range(100):
        tmp = folder / temp_name()
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask: a normal save's mode
        except FileExistsError:
            continue
        if mode is not None:  # an existing target's mode (os.fchmod is POSIX-only before 3.13)
            try:
                os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(tmp, mode)
            except BaseException:
                os.close(fd)
                _unlink_quietly(tmp)
                raise
        return fd, tmp
    raise FileExistsError(17, "could not find a free temporary file name")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (POSIX)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    except (OverflowError, OSError):
        return False
    return True


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove this module's temporary files in `folder` whose process no longer exists (left by
    a process killed mid-write). Best effort: never raises. Returns what was removed.
    POSIX only (elsewhere there is no harmless way to ask whether a pid is alive)."""
    if os.name != "posix":
        return []
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    own = os.getpid()
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == own or _pid_alive(pid):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX); best effort, not possible on every platform."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(target: WriteTarget, data: Data) -> Path:
    """Write `data` to a new temporary file next to target.real, flushed and fsync'ed. Raises
    OSError (the temporary file removed) or whatever `data(handle)` raises."""
    folder = target.real.parent
    remove_stale_temp_files(folder)
    fd, tmp = _create_temp(folder, target.mode)
    try:
        try:
            handle = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if target.owner is not None and os.name == "posix":
            try:
                os.chown(tmp, *target.owner)  # keep the owner where allowed (e.g. root saving a user's file)
            except OSError:
                pass
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def atomic_write(path: str | os.PathLike, data: Data) -> Path:
    """Write `data` (bytes, or a function given the open binary file) to `path` atomically.

    Returns the path as given. FileWriteError (naming the file) on any OSError; anything else
    raised by `data(handle)` propagates. In every failure the temporary file is removed and an
    existing file is left as it was."""
    target = check_target(path)
    tmp = None
    try:
        tmp = _write_temp(target, data)
        os.replace(tmp, target.real)
        tmp = None
        _fsync_directory(target.real.parent)
    except OSError as exc:
        raise FileWriteError(target.path, _reason(exc)) from None
    finally:
        if tmp is not None:
            _unlink_quietly(tmp)
    return target.path


# --- several files, all or nothing ---------------------------------------------------------------
@dataclass
class _Staged:
    target: WriteTarget
    tmp: Path
    backup: Path | None = None


class StagedWrites:
    """Write several files all or nothing.

    `add(path, data)` writes each file under a temporary name next to its target (checked first,
    see `check_target`); `commit()` renames them all into place. If a rename fails, the files
    already renamed are undone: a file this call created is removed, a file that existed before
    gets its old content back (it is kept as a hard link, or a copy, until the commit is done).
    Used as a context manager, everything not committed is removed on the way out, also on
    Ctrl+C or SystemExit. FileWriteError on any OSError.
    """

    def __init__(self) -> None:
        self._items: list[_Staged] = []
        self._committed = False

    def __enter__(self) -> "StagedWrites":
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()

    @property
    def temp_paths(self) -> list[Path]:
        return [item.tmp for item in self._items]

    def add(self, path: str | os.PathLike, data: Data) -> Path:
        if self._committed:
            raise RuntimeError("already committed")
        target = check_target(path)
        if any(item.target.real == target.real for item in self._items):
            raise FileWriteError(path, "the same file is given twice")
        try:
            tmp = _write_temp(target, data)
        except OSError as exc:
            raise FileWriteError(target.path, _reason(exc)) from None
        self._items.append(_Staged(target, tmp))
        return target.path

    def commit(self) -> list[Path]:
        """Rename every staged file into place. Returns the paths as given."""
        if self._committed:
            raise RuntimeError("already committed")
        current = None
        placed: list[_Staged] = []
        try:
            for item in self._items:  # keep the old content of every existing target first
                current = item
                if item.target.existed:
                    item.backup = _keep_old_content(item.target.real)
            for item in self._items:
                current = item
                os.replace(item.tmp, item.target.real)
                placed.append(item)
            current = None
            self._committed = True
        except BaseException as exc:
            for item in reversed(placed):
                _undo(item)
            self.discard()
            if isinstance(exc, OSError):
                where = current.target.path if current is not None else self._items[0].target.path
                raise FileWriteError(where, _reason(exc)) from None
            raise
        for item in self._items:
            if item.backup is not None:
                _unlink_quietly(item.backup)
                item.backup = None
        for folder in {item.target.real.parent for item in self._items}:
            _fsync_directory(folder)
        return [item.target.path for item in self._items]

    def discard(self) -> None:
        """Remove every temporary file (and kept old content) not committed. Never raises."""
        for item in self._items:
            if not self._committed:
                _unlink_quietly(item.tmp)
            if item.backup is not None:
                _unlink_quietly(item.backup)
                item.backup = None
        if not self._committed:
            self._items = []


def _keep_old_content(real: Path) -> Path:
    """A second name for an existing file's content (a hard link; a copy where links are not
    possible), so a failed commit can put it back."""
    folder = real.parent
    for _attempt in range(100):
        backup = folder / temp_name()
        try:
            os.link(real, backup, follow_symlinks=False)
            return backup
        except FileExistsError:
            continue
        except OSError:
            break  # no hard links here (e.g. some network or FAT file systems): copy instead
    import shutil

    fd, backup = _create_temp(folder, stat.S_IMODE(os.stat(real).st_mode))
    try:
        with os.fdopen(fd, "wb") as out, open(real, "rb") as old:
            shutil.copyfileobj(old, out)
    except BaseException:
        _unlink_quietly(backup)
        raise
    return backup


def _undo(item: _Staged) -> None:
    """Put back what a placed item replaced (the old content, or no file at all)."""
    try:
        if item.backup is not None:
            os.replace(item.backup, item.target.real)
        else:
            os.unlink(item.target.real)  # created by this call
    except OSError:
        pass  # a kept old content that could not be put back stays under its temporary name
    item.backup = None  # either way: discard() must not remove it


__all__ = [
    "FileReadError", "FileWriteError", "NAME_MAX", "StagedWrites", "TEMP_NAME", "WriteTarget", "atomic_write",
    "check_regular_file", "check_target", "kind_of", "open_regular_nonblocking", "remove_stale_temp_files",
    "temp_name",
]
