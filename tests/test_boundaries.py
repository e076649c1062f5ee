"""The import boundaries of docs/architecture.md, checked by parsing every import (lazy ones
inside functions too): agent/, generation/ and storage/ import nothing of ours; bot/ and api/
only dreamreel; dreamreel builds on agent, generation and storage, and on a channel only where
the command line starts it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

OURS = frozenset({"agent", "generation", "storage", "dreamreel", "bot", "api", "migrations", "bench", "tests"})
MAY_IMPORT = {
    "agent": frozenset(),
    "generation": frozenset(),
    "storage": frozenset(),
    "dreamreel": frozenset({"agent", "generation", "storage"}),
    "bot": frozenset({"dreamreel"}),
    "api": frozenset({"dreamreel"}),
}
# `dreamreel bot` and `dreamreel api` start the channels (imported when the command runs)
ENTRY_POINTS = {"dreamreel/commands.py": frozenset({"bot", "api"})}


def imported_packages(path: Path) -> dict[str, int]:
    """Top-level packages of ours that `path` imports, each with the first line doing it."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # a relative import stays inside its own package
        for name in names:
            top = name.split(".")[0]
            if top in OURS:
                found.setdefault(top, node.lineno)
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_what_the_architecture_allows(package: str) -> None:
    crossings = [
        f"{name}:{line} imports {other}"
        for path in sorted((REPO / package).rglob("*.py"))
        if (name := str(path.relative_to(REPO)))
        for other, line in imported_packages(path).items()
        if other not in MAY_IMPORT[package] | {package} | ENTRY_POINTS.get(name, frozenset())
    ]
    assert crossings == []


def test_the_check_sees_lazy_and_dotted_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os\nfrom . import sibling\n\ndef f():\n    import storage.db\n    from dreamreel.errors import X\n"
    )
    assert imported_packages(source) == {"storage": 5, "dreamreel": 6}
