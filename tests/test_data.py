"""Every data file is documented in a README.md of its folder or a parent folder of data/, with
its row count; tables that have source and licence columns fill them in."""

from __future__ import annotations

from pathlib import Path


def _tables(readme: Path) -> dict[str, tuple[int, dict[str, str]]]:
    """{path relative to the README's folder: (rows, {column: cell})} from its Markdown tables."""
    out: dict[str, tuple[int, dict[str, str]]] = {}
    header: list[str] = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = [c.lower() for c in cells]
        elif set(line) <= set("|-: ") or "rows" not in header:
            continue
        elif cells[0].endswith(".jsonl"):
            row = dict(zip(header, cells, strict=False))
            out[cells[0].strip("`")] = (int(row["rows"].replace(",", "")), row)
    return out


def test_every_data_file_is_documented_with_its_row_count_and_licence(repo_data: Path) -> None:
    documented: dict[Path, tuple[int, dict[str, str]]] = {}
    for readme in repo_data.rglob("README.md"):
        documented |= {readme.parent / name: entry for name, entry in _tables(readme).items()}
    assert repo_data / "dream_scenes_eval.jsonl" in documented and repo_data / "train" / "kote_ko.jsonl" in documented
    present = set(repo_data.rglob("*.jsonl"))
    assert present <= set(documented), f"undocumented: {sorted(str(p) for p in present - set(documented))}"
    assert set(documented) <= present, f"documented but missing: {sorted(str(p) for p in set(documented) - present)}"
    for path, (rows, row) in documented.items():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(lines) == rows, f"{path}: README says {rows} rows, the file has {len(lines)}"
        for column in ("source", "licence"):
            if column in row:
                assert row[column], f"{path}: no {column} in its README"
