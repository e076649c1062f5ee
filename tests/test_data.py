"""data/README.md names every data file with its row count, source and licence, and they match."""

from __future__ import annotations

import re
from pathlib import Path

ROW = re.compile(r"^\| *([\w/.-]+\.jsonl) *\| *([\d,]+) *\|(.*)\|\s*$")


def _documented(readme: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        if m := ROW.match(line):
            out[m.group(1)] = (int(m.group(2).replace(",", "")), m.group(3))
    return out


def test_every_data_file_is_documented_with_its_row_count_and_licence(repo_data: Path) -> None:
    documented = _documented(repo_data / "README.md")
    present = {str(p.relative_to(repo_data)) for p in repo_data.rglob("*.jsonl")}
    assert present == set(documented), "data/README.md and the files in data/ disagree"
    for name, (rows, rest) in documented.items():
        lines = [line for line in (repo_data / name).read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(lines) == rows, f"{name}: README says {rows} rows, the file has {len(lines)}"
        source_and_licence = [cell.strip() for cell in rest.split("|")][-2:]
        assert all(source_and_licence), f"{name}: source or licence missing in data/README.md"
