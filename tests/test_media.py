"""The media store writes atomically and never lets a path leave its root."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.media import MediaStore, UnsafePath, job_dir

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


def _leftovers(store: MediaStore) -> list[str]:
    return sorted(p.name for p in store.root.rglob("*") if p.is_file() and ".tmp" in p.name)


def test_job_dir_naming() -> None:
    assert job_dir(123) == "jobs/000123"
    assert job_dir(1234567) == "jobs/1234567"
    with pytest.raises(ValueError):
        job_dir(-1)


def test_write_bytes_creates_parents_and_leaves_no_temp(store: MediaStore) -> None:
    rel = f"{job_dir(7)}/clip-000.mp4"
    path = store.write_bytes(rel, b"first")
    assert path == store.root / "jobs" / "000007" / "clip-000.mp4"
    assert path.read_bytes() == b"first"
    assert store.exists(rel)
    assert store.relative(path) == rel
    store.write_bytes(rel, b"second")
    assert path.read_bytes() == b"second"
    assert _leftovers(store) == []


def test_atomic_path_uses_a_hidden_temp_with_the_same_suffix(store: MediaStore) -> None:
    with store.atomic_path("jobs/000001/clip-000.mp4") as tmp:
        assert tmp.parent == store.root / "jobs" / "000001"
        assert tmp.name.startswith(".clip-000.")
        assert tmp.name.endswith(".tmp.mp4")
        assert not (tmp.parent / "clip-000.mp4").exists()  # nothing visible before the rename
        tmp.write_bytes(b"video")
    assert store.path_for("jobs/000001/clip-000.mp4").read_bytes() == b"video"
    assert _leftovers(store) == []


def test_error_inside_the_block_keeps_the_old_file_and_removes_the_temp(store: MediaStore) -> None:
    store.write_bytes("video.mp4", b"old")
    with pytest.raises(RuntimeError, match="encoder died"), store.atomic_path("video.mp4") as tmp:
        tmp.write_bytes(b"half a new vid")
        raise RuntimeError("encoder died")
    assert store.path_for("video.mp4").read_bytes() == b"old"
    assert _leftovers(store) == []


def test_nothing_written_is_an_error_and_keeps_the_old_file(store: MediaStore) -> None:
    store.write_bytes("video.mp4", b"old")
    with pytest.raises(FileNotFoundError), store.atomic_path("video.mp4"):
        pass
    assert store.path_for("video.mp4").read_bytes() == b"old"


def test_crash_between_write_and_rename_keeps_the_old_file(store: MediaStore) -> None:
    """A process killed after writing the temp (before the rename) leaves the old file intact."""
    store.write_bytes("jobs/000002/final.mp4", b"old")
    code = (
        "import os, sys; from pathlib import Path; from storage.media import MediaStore\n"
        "store = MediaStore(Path(sys.argv[1]))\n"
        "with store.atomic_path('jobs/000002/final.mp4') as tmp:\n"
        "    tmp.write_bytes(b'new content')\n"
        "    os._exit(3)  # no cleanup, no rename: like a kill -9\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(store.root)], cwd=REPO, timeout=60)
    assert proc.returncode == 3
    assert store.path_for("jobs/000002/final.mp4").read_bytes() == b"old"
    leftovers = _leftovers(store)
    assert len(leftovers) == 1 and leftovers[0].startswith(".final.")

    assert store.sweep_temp(older_than=3600) == []  # young: might be a writer still running
    temp = next(store.root.rglob(".final.*"))
    old = time.time() - 7200
    os.utime(temp, (old, old))
    assert store.sweep_temp(older_than=3600) == [store.relative(temp)]
    assert _leftovers(store) == []
    assert store.path_for("jobs/000002/final.mp4").read_bytes() == b"old"


@pytest.mark.parametrize(
    "rel",
    [
        "",
        "   ",
        "/etc/passwd",
        "../outside.mp4",
        "jobs/../../outside.mp4",
        "jobs/000001/../../../x",
        "..",
        ".",
        "C:/Windows/x",
        "jobs\\..\\..\\x",
        "a\x00b",
    ],
)
def test_path_traversal_is_refused(store: MediaStore, rel: str) -> None:
    with pytest.raises(UnsafePath):
        store.path_for(rel)
    with pytest.raises(UnsafePath):
        store.write_bytes(rel, b"x")
    assert not store.root.exists() or _leftovers(store) == []


def test_symlink_out_of_the_root_is_refused(store: MediaStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir(parents=True)
    (store.root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath):
        store.write_bytes("escape/x.mp4", b"x")
    assert list(outside.iterdir()) == []


def test_relative_refuses_paths_outside_the_root(store: MediaStore, tmp_path: Path) -> None:
    with pytest.raises(UnsafePath):
        store.relative(tmp_path / "elsewhere.mp4")
    with pytest.raises(UnsafePath):
        store.relative(store.root)


def test_dot_segments_are_normalised(store: MediaStore) -> None:
    assert store.path_for("./jobs//000001/./a.mp4") == store.root / "jobs" / "000001" / "a.mp4"


def test_remove(store: MediaStore) -> None:
    store.write_bytes("a/b.bin", b"x")
    assert store.remove("a/b.bin") is True
    assert not store.exists("a/b.bin")
    assert store.remove("a/b.bin") is False


def test_sweep_temp_under_one_directory_only(store: MediaStore) -> None:
    for job in (1, 2):
        folder = store.path_for(job_dir(job))
        folder.mkdir(parents=True)
        (folder / ".clip-000.abcd1234.tmp.mp4").write_bytes(b"partial")
    (store.path_for(job_dir(1)) / ".hidden-but-not-temp").write_bytes(b"keep")
    assert store.sweep_temp(older_than=0, under=job_dir(1)) == ["jobs/000001/.clip-000.abcd1234.tmp.mp4"]
    assert _leftovers(store) == [".clip-000.abcd1234.tmp.mp4"]  # job 2's is untouched
    assert (store.path_for(job_dir(1)) / ".hidden-but-not-temp").is_file()
    assert store.sweep_temp(older_than=0, under=job_dir(3)) == []
    with pytest.raises(UnsafePath):
        store.sweep_temp(under="../..")
