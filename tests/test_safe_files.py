"""Saving presets and writing exports safely (simulator/files.py): long names, symlinks, read-only
files, FIFOs, folders without search permission, leftovers of killed writes. No Qt."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from simulator import Setup, compute
from simulator import files
from simulator.presets import Preset, PresetError, load_preset, save_preset

ROOT = Path(__file__).resolve().parents[1]
PRESET = Preset.from_setup("Safe", Setup(hidden_size=2, steps=5))


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    """The pid of a process that has finished (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


@pytest.fixture(scope="module")
def results():
    return compute(Setup(hidden_size=2, steps=4), backend="reference")


# --- item 6: every path problem is a PresetError naming the file, never a traceback ---------------------
def test_a_name_over_the_file_name_limit_is_a_clear_preset_error(tmp_path):
    path = tmp_path / ("n" * 251 + ".json")  # 256 bytes: one over the limit
    with pytest.raises(PresetError) as info:
        save_preset(PRESET, path)
    assert "n" * 40 in str(info.value) and "too long" in str(info.value)
    assert names(tmp_path) == []


def test_a_folder_without_search_permission_is_a_clear_preset_error(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o600)  # no search (x) permission
    if os.geteuid() == 0:  # root passes through any permission: make the OS refuse as it would for a user
        real_stat = os.stat

        def refusing_stat(path, *args, **kwargs):
            if str(path).startswith(str(locked) + os.sep):
                raise PermissionError(13, "Permission denied", str(path))
            return real_stat(path, *args, **kwargs)

        monkeypatch.setattr(os, "stat", refusing_stat)
    try:
        with pytest.raises(PresetError) as info:
            save_preset(PRESET, locked / "mine.json")
    finally:
        monkeypatch.undo()
        os.chmod(locked, 0o700)
    assert "mine.json" in str(info.value) and "permission denied" in str(info.value)
    assert names(locked) == []


def test_saving_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real" / "mine.json"
    real.parent.mkdir()
    save_preset(Preset.from_setup("Old", Setup()), real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(Path("real") / "mine.json")  # relative, like `ln -s`
    save_preset(PRESET, link)
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "mine.json")
    assert load_preset(real).name == "Safe" and load_preset(link).name == "Safe"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # the target keeps its mode
    assert names(tmp_path) == ["link.json", "real"] and names(real.parent) == ["mine.json"]


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "new.json")
    save_preset(PRESET, link)
    assert link.is_symlink() and load_preset(tmp_path / "new.json") == PRESET


def test_a_read_only_file_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "kept.json"
    save_preset(Preset.from_setup("Kept", Setup()), path)
    before = path.read_bytes()
    os.chmod(path, 0o444)
    with pytest.raises(PresetError) as info:
        save_preset(PRESET, path)
    assert "kept.json" in str(info.value) and "read-only" in str(info.value)
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert names(tmp_path) == ["kept.json"]


def test_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    with pytest.raises(PresetError, match=r"a\.json.*symlink loop"):
        save_preset(PRESET, tmp_path / "a.json")
    with pytest.raises(PresetError, match=r"a\.json.*symlink loop"):
        load_preset(tmp_path / "a.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_a_refused_preset_name_names_the_file(tmp_path):
    path = tmp_path / "blank.json"
    with pytest.raises(PresetError) as info:
        Preset.from_setup("   ", Setup(), source=path)
    assert "blank.json" in str(info.value) and "name" in str(info.value)


# --- item 8: short temporary names, long legal names, leftovers of killed writes ------------------------
def test_temporary_names_are_short_whatever_the_target():
    name = files.temp_name()
    assert files.TEMP_NAME.match(name) and len(name) <= 32


def test_a_long_legal_name_can_be_saved_and_exported(tmp_path, results):
    preset_path = tmp_path / ("p" * 250 + ".json")  # 255 bytes: the longest legal name
    save_preset(PRESET, preset_path)
    assert load_preset(preset_path) == PRESET
    from ui.export import files as figures

    export_path = tmp_path / ("e" * 248 + ".csv")  # the 252 characters
    figures.export(results, "factors", export_path)
    assert export_path.read_text().startswith("t,")
    assert names(tmp_path) == sorted([preset_path.name, export_path.name])


def test_stale_temp_files_of_dead_processes_are_removed_at_the_next_save(tmp_path, results):
    dead = dead_pid()
    stale = tmp_path / f".rgl-{dead}-0123abcd.tmp"
    alive = tmp_path / f".rgl-{os.getppid()}-89abcdef.tmp"  # a live process: maybe still writing
    unrelated = tmp_path / ".mine.json.tmp"
    for path in (stale, alive, unrelated):
        path.write_bytes(b"half a file")
    save_preset(PRESET, tmp_path / "mine.json")
    assert names(tmp_path) == sorted([alive.name, unrelated.name, "mine.json"])
    stale.write_bytes(b"again")
    from ui.export import files as figures

    figures.export(results, "factors", tmp_path / "out.csv")  # exports clean up too
    assert not stale.exists() and alive.exists()


KILLED_WRITER = r"""
import sys, time
from simulator import files

def write(handle):
    handle.write(b'{"half": ')
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)

files.atomic_write(sys.argv[1], write)
"""


def test_a_save_killed_mid_write_leaves_a_temp_file_the_next_save_removes(tmp_path):
    target = tmp_path / "mine.json"
    save_preset(Preset.from_setup("Old", Setup()), target)
    before = target.read_bytes()
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        leftovers = [n for n in names(tmp_path) if n != "mine.json"]
        assert len(leftovers) == 1 and files.TEMP_NAME.match(leftovers[0])
    finally:
        writer.kill()
        writer.wait(10)
    assert target.read_bytes() == before  # the old file is whole
    save_preset(PRESET, target)
    assert names(tmp_path) == ["mine.json"] and load_preset(target) == PRESET


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit, OSError])
def test_any_failure_while_writing_removes_the_temp_file(tmp_path, stop):
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")

    def write(handle):
        handle.write(b"partial")
        raise stop("stopped")

    with pytest.raises(files.FileWriteError if stop is OSError else stop):
        files.atomic_write(target, write)
    assert names(tmp_path) == ["x.bin"] and target.read_bytes() == b"old"


def test_new_files_get_the_umask_and_existing_files_keep_their_mode(tmp_path):
    umask = os.umask(0o027)
    try:
        files.atomic_write(tmp_path / "new.bin", b"x")
        assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o640
    finally:
        os.umask(umask)
    os.chmod(tmp_path / "new.bin", 0o604)
    files.atomic_write(tmp_path / "new.bin", b"y")
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o604


# --- item 9: a FIFO (or any non-regular file) is refused before it is opened ----------------------------
def _run_with_timeout(function, fifo: Path, timeout: float = 10.0):
    """Run function() in a thread; if it blocks (on the FIFO), unblock it and fail."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():  # blocked in open(): open the other end so it can finish, then fail
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
        pytest.fail(f"blocked on the FIFO {fifo.name}")
    return outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_loading_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    outcome = _run_with_timeout(lambda: load_preset(fifo), fifo)
    error = outcome.get("error")
    assert isinstance(error, PresetError), outcome
    assert "p.json" in str(error) and "FIFO" in str(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_saving_or_exporting_onto_a_fifo_is_refused_and_the_fifo_stays(tmp_path, results):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    outcome = _run_with_timeout(lambda: save_preset(PRESET, fifo), fifo)
    assert isinstance(outcome.get("error"), PresetError) and "FIFO" in str(outcome["error"]), outcome
    from ui.export import files as figures

    csv_fifo = tmp_path / "p.csv"
    os.mkfifo(csv_fifo)
    outcome = _run_with_timeout(lambda: figures.export(results, "factors", csv_fifo), csv_fifo)
    assert isinstance(outcome.get("error"), figures.ExportError) and "FIFO" in str(outcome["error"]), outcome
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISFIFO(csv_fifo.stat().st_mode)
    assert names(tmp_path) == ["p.csv", "p.json"]


def test_loading_a_device_is_refused(tmp_path):
    with pytest.raises(PresetError, match="device"):
        load_preset("/dev/zero")


# --- exports share the same rules ---------------------------------------------------------------------
def test_exports_write_through_symlinks_and_refuse_read_only_files(tmp_path, results):
    from ui.export import files as figures

    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    figures.export(results, "factors", link)
    assert link.is_symlink() and target.read_text().startswith("t,")
    os.chmod(target, 0o444)
    with pytest.raises(figures.ExportError, match="link.csv.*read-only"):
        figures.export(results, "terms", link)
    assert target.read_text().startswith("t,") and names(tmp_path) == ["link.csv", "real.csv"]


# --- several files at once: a failed rename undoes only this call's changes (item 18) ------------------
def test_a_failed_commit_restores_old_files_and_removes_new_ones(tmp_path, monkeypatch):
    old = tmp_path / "old.txt"
    old.write_bytes(b"old content")
    new = tmp_path / "new.txt"
    last = tmp_path / "last.txt"
    real_replace = os.replace

    def fail_on_last(src, dst, *args, **kwargs):
        if Path(dst) == last:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", fail_on_last)
    with pytest.raises(files.FileWriteError, match="last.txt.*No space left"):
        with files.StagedWrites() as staged:
            staged.add(old, b"new content")
            staged.add(new, b"brand new")
            staged.add(last, b"last")
            staged.commit()
    monkeypatch.undo()
    assert names(tmp_path) == ["old.txt"] and old.read_bytes() == b"old content"


def test_staged_writes_are_removed_on_ctrl_c(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with files.StagedWrites() as staged:
            staged.add(tmp_path / "a.txt", b"a")
            assert len(staged.temp_paths) == 1 and staged.temp_paths[0].exists()
            raise KeyboardInterrupt
    assert names(tmp_path) == []


def test_check_target_reasons(tmp_path):
    (tmp_path / "dir").mkdir()
    cases = {
        "": "no file name",
        str(tmp_path / "dir"): "a folder",
        str(tmp_path / "nowhere" / "x.csv"): "does not exist",
        str(tmp_path / ("x" * 300)): "too long",
        str(tmp_path / "a\x00b"): "NUL",
    }
    for path, reason in cases.items():
        with pytest.raises(files.FileWriteError) as info:
            files.check_target(path)
        assert reason in str(info.value), (path, str(info.value))
        assert "\n" not in str(info.value)
    with pytest.raises(files.FileReadError, match="no such file"):
        files.check_regular_file(tmp_path / "missing.json")


def test_the_liveness_check_only_asks():
    # signal 0 only asks: the current process is alive (and still running after being asked)
    assert files._pid_alive(os.getpid())
    assert not files._pid_alive(dead_pid())
