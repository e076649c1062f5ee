"""Media files under one root (DREAMREEL_HOME/media), written atomically.

Paths handed around and stored in the database are *relative* POSIX strings ("jobs/000123/clip-000.mp4").
`MediaStore.path_for` turns one into a real path and refuses anything that would leave the root
(absolute paths, `..`, symlinks pointing outside), so a path that came from a request or a row can
never reach another file.

Writes go to a temp file in the same directory and are renamed over the final name with
`os.replace` once complete. A reader therefore sees the old file or the new one, never half of one;
a crash mid-write leaves at most a hidden `.name.<random>.tmp.ext` file that `sweep_temp` removes.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath, PureWindowsPath

log = logging.getLogger(__name__)

_TEMP_MARK = ".tmp"


class UnsafePath(ValueError):
    """A relative media path that is empty, absolute, or would escape the store's root."""


def job_dir(job_id: int) -> str:
    """The relative directory of a job's files: `job_dir(123) == "jobs/000123"`."""
    if job_id < 0:
        raise ValueError(f"job id must not be negative, got {job_id}")
    return f"jobs/{job_id:06d}"


def diary_dir(diary_id: int) -> str:
    """The relative directory of a diary's own files (the dreamer's photo): `diaries/000042`."""
    if diary_id < 0:
        raise ValueError(f"diary id must not be negative, got {diary_id}")
    return f"diaries/{diary_id:06d}"


def _is_temp_name(name: str) -> bool:
    return name.startswith(".") and _TEMP_MARK in name


class MediaStore:
    """Files under `root`, addressed by relative POSIX paths."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"MediaStore({str(self.root)!r})"

    # -- paths ---------------------------------------------------------------------------------

    def path_for(self, rel: str) -> Path:
        """The absolute path of `rel`; raises `UnsafePath` if it is not a plain path inside the root."""
        if not isinstance(rel, str) or not rel.strip():
            raise UnsafePath("empty media path")
        if "\x00" in rel or "\\" in rel:
            raise UnsafePath(f"media path has a forbidden character: {rel!r}")
        posix = PurePosixPath(rel)
        if posix.is_absolute() or PureWindowsPath(rel).drive:
            raise UnsafePath(f"media path must be relative: {rel!r}")
        parts = [p for p in posix.parts if p not in ("", ".")]
        if not parts or ".." in parts:
            raise UnsafePath(f"media path must stay inside the store: {rel!r}")
        path = self.root.joinpath(*parts)
        # A symlink inside the root could still point elsewhere: check where it really leads.
        if not path.resolve().is_relative_to(self.root):
            raise UnsafePath(f"media path leads outside the store: {rel!r}")
        return path

    def relative(self, path: Path | str) -> str:
        """The relative POSIX string of an absolute `path` inside the root (inverse of `path_for`)."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise UnsafePath(f"{path} is not a file inside the media store {self.root}")
        return resolved.relative_to(self.root).as_posix()

    def exists(self, rel: str) -> bool:
        """True if `rel` names an existing file."""
        return self.path_for(rel).is_file()

    # -- writing -------------------------------------------------------------------------------

    @contextmanager
    def atomic_path(self, rel: str) -> Iterator[Path]:
        """Yield a temp path next to `rel` (same suffix, so writers pick the right format);
        on success it is renamed over `rel`, on error it is deleted and `rel` is left as it was.

            with store.atomic_path("jobs/000007/clip-000.mp4") as tmp:
                clip.write_videofile(str(tmp))
        """
        final = self.path_for(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.stem}.{secrets.token_hex(4)}{_TEMP_MARK}{final.suffix}")
        try:
            yield tmp
            if not tmp.is_file():
                raise FileNotFoundError(f"nothing was written to {tmp} for {rel}")
            _fsync_file(tmp)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            with suppress(FileNotFoundError):
                tmp.unlink()
            raise
        log.debug("wrote %s", rel)

    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Write `data` to `rel` atomically; returns the final absolute path."""
        with self.atomic_path(rel) as tmp:
            tmp.write_bytes(data)
        return self.path_for(rel)

    def remove(self, rel: str) -> bool:
        """Delete the file `rel`; returns False if it did not exist."""
        try:
            self.path_for(rel).unlink()
        except FileNotFoundError:
            return False
        return True

    def remove_tree(self, rel: str) -> bool:
        """Delete the directory `rel` and everything in it; returns False if it did not exist."""
        import shutil

        path = self.path_for(rel)
        if not path.is_dir():
            return False
        shutil.rmtree(path)
        return True

    def sweep_temp(self, older_than: float = 3600.0, under: str | None = None) -> list[str]:
        """Delete temp files a crashed writer left behind (older than `older_than` seconds),
        in the whole store or only below the relative directory `under`.

        Returns the relative paths removed. Young temp files may belong to a writer still running.
        """
        base = self.path_for(under) if under else self.root
        if not base.is_dir():
            return []
        cutoff = time.time() - older_than
        removed: list[str] = []
        for path in base.rglob(".*"):
            if not (_is_temp_name(path.name) and path.is_file()):
                continue
            with suppress(FileNotFoundError):
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed.append(path.relative_to(self.root).as_posix())
        if removed:
            log.info("removed %d leftover temp file(s) from %s", len(removed), self.root)
        return removed


def _fsync_file(path: Path) -> None:
    """Flush file contents to disk so the rename never exposes an empty file after a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Persist the rename itself (POSIX); directories cannot be opened this way on Windows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
