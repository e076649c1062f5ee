"""Every data file is documented in a README.md of its folder or a parent folder of data/, with
its row count; tables that have source and licence columns fill them in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


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


_FRAME = re.compile(
    r"^(?:(?:어젯밤|자다가 꾼|새벽에 꾼|오늘|나는)?\s*(?:꿈속에서|꿈에서(?:는)?|꿈을 꿨는데)"
    r"|in (?:the|my) (?:dream|nightmare)|last night i dreamt(?: that)?|i had a dream where)\s*",
    re.IGNORECASE,
)
NEAR_COPY = 0.5  # character-trigram Dice at which a training sentence copies an evaluation row


def _trigrams(text: str) -> set[str]:
    """Character trigrams of `text` without its dream frame ("꿈에서", "In the dream"), spaces or punctuation."""
    core = re.sub(r"[\W_]+", "", _FRAME.sub("", text.strip().lower()))
    return {core[i : i + 3] for i in range(len(core) - 2)}


def _rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _held_rows(repo_data: Path) -> list[dict[str, str]]:
    """Every row no training sentence may copy: the evaluation sets, the held-out writers and the
    validation set of long dreams."""
    return [
        row
        for path in [*sorted((repo_data / "policy").glob("*.jsonl")), *sorted((repo_data / "policy" / "fresh").glob("*.jsonl")),
                     repo_data / "dream_cases.jsonl", repo_data / "dream_scenes_eval.jsonl"]
        for row in _rows(path)
    ]


def _near_copies(training: list[str], held_rows: list[dict[str, str]]) -> list[str]:
    """`training` sentences within character-trigram Dice `NEAR_COPY` of a held row."""
    held = [(row["text"], _trigrams(row["text"])) for row in held_rows]
    copies = []
    for text in dict.fromkeys(training):
        grams = _trigrams(text)
        for other, their in held:
            if grams and their and 2 * len(grams & their) / (len(grams) + len(their)) >= NEAR_COPY:
                copies.append(f"{text!r} ~ {other!r}")
    return copies


def test_training_sentences_do_not_copy_evaluation_rows(repo_data: Path) -> None:
    """Numbers on the evaluation sets mean something only if no training sentence is a reworded copy
    of an evaluation row (the same scene with a frame or a word changed)."""
    training = [
        *_rows(repo_data / "policy" / "train" / "written.jsonl"),
        *_rows(repo_data / "train" / "dream_scenes.jsonl"),
        *_rows(repo_data / "train" / "toxicity_lookalikes.jsonl"),  # written too (stop 35)
    ]
    evaluation = _held_rows(repo_data)
    assert len(training) > 5000 and len(evaluation) > 740
    copies = _near_copies([row["text"] for row in training], evaluation)
    assert not copies, "training rows copying evaluation rows:\n" + "\n".join(copies[:20])


def test_the_written_rows_are_composed_from_the_scene_files_and_the_fresh_half_can_be_held_out(
    repo_data: Path, tmp_path: Path
) -> None:
    """`compose_written.py` rebuilds `written.jsonl` exactly, and `--stop28 even` leaves out every
    scene that `bench.fresh_writer` reads (its held half), in every frame, and nothing else."""
    import subprocess
    import sys

    from bench.fresh_writer import held_half

    script = repo_data / "policy" / "train" / "compose_written.py"
    full, even = tmp_path / "full.jsonl", tmp_path / "even.jsonl"
    for args, out in (([], full), (["--stop28", "even"], even)):
        subprocess.run([sys.executable, str(script), *args, "--out", str(out)], check=True, capture_output=True)
    assert full.read_bytes() == (repo_data / "policy" / "train" / "written.jsonl").read_bytes()
    held = held_half(repo_data / "policy" / "train")
    assert len(held) == 4 * 2 * 15 + 2 * 30
    full_rows, even_rows = _rows(full), _rows(even)
    full_texts, even_texts = {r["text"] for r in full_rows}, {r["text"] for r in even_rows}
    assert even_texts < full_texts
    framed = {text for _, _, text in held}
    assert framed <= full_texts and not framed & even_texts
    # what the even half lacks is exactly the held scenes in their frames: 5 per harmful scene
    # (the dream frames) and 9 per benign one (those and four more), and their labels agree
    missing = [r for r in full_rows if r["text"] not in even_texts]
    assert len(missing) == 4 * 2 * 15 * 5 + 2 * 30 * 9
    assert {(r["label"], r["lang"], r["text"]) for r in missing} >= {(c, lang, t) for c, lang, t in held}


def test_the_held_out_writers_scenes_are_complete_and_read_by_no_training(repo_data: Path) -> None:
    """`bench.fresh_writer` reads each file of `data/policy/fresh/` as one writer no heads ever
    trained on: 30 scenes per language for each of four harmful categories and 60 harmless ones (less
    the near copies of a training scene left out).
    (That no training row copies them is `test_training_sentences_do_not_copy_evaluation_rows`.)"""
    from collections import Counter

    from bench.fresh_writer import held_out, writers

    assert [path.name for path in writers(repo_data / "policy" / "fresh")] == [
        "stop29.jsonl", "stop31.jsonl", "stop32.jsonl", "stop33.jsonl", "stop34.jsonl"
    ]
    harmful = {(c, lang): 30 for c in ("gore", "sexual", "self_harm", "hate") for lang in ("ko", "en")}
    # rows left out as near copies of a training scene (data/policy/README.md)
    removed = {"stop31.jsonl": Counter({("self_harm", "en"): 1}), "stop33.jsonl": Counter({("none", "en"): 1}),
               "stop34.jsonl": Counter({("none", "en"): 2})}
    seen: set[str] = set()
    for path in writers(repo_data / "policy" / "fresh"):
        scenes = held_out(path)
        counts = Counter((category, lang) for category, lang, _ in scenes)
        written = Counter(harmful | {("none", "ko"): 60, ("none", "en"): 60})
        assert counts == written - removed.get(path.name, Counter()), path.name
        texts = {text for _, _, text in scenes}
        assert len(texts) == len(scenes) and not texts & seen, path.name
        seen |= texts


def test_long_dream_reports_are_read_by_the_bench_and_refusals_name_their_categories(tmp_path: Path) -> None:
    """`bench.long_dreams` lists the reports a policy refuses with the categories that refused them;
    the shipped set holds 60 long reports per language."""
    from collections import Counter

    from agent.safety.policy import SafetyPolicy
    from bench.long_dreams import LONG_DREAMS, refusals

    rows = _rows(LONG_DREAMS)
    assert Counter(r["lang"] for r in rows) == Counter({"en": 60, "ko": 60})
    assert min(len(r["text"]) for r in rows) > 400
    path = tmp_path / "dreams.jsonl"
    path.write_text(
        json.dumps({"id": "a", "lang": "en", "text": "We walked the dog along the beach and ate ice cream."}) + "\n"
        + json.dumps({"id": "b", "lang": "en", "text": "He cut off her head and her guts spilled over the floor."}) + "\n",
        encoding="utf-8",
    )
    found = refusals(SafetyPolicy(meaning=None), path)
    assert [(report, lang) for report, lang, _, _ in found] == [("b", "en")]
    assert found[0][2] in {"review", "block"} and "gore" in found[0][3]


def test_long_dreams_reads_another_set_and_moves_the_heads_anchors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bench.long_dreams --data PATH --shift S` reads another validation set with every head's anchors
    moved by S log-odds (as `bench.frontier` moves them): a shift far up leaves only what the rules
    and classifiers refuse, far down refuses more; a shift that is no number is a usage error."""
    from bench.long_dreams import main

    path = tmp_path / "dreams.jsonl"
    rows = [
        ("calm", "We walked the dog along the beach and ate ice cream."),
        ("blunt", "He cut off her head and her guts spilled over the floor."),
        ("quiet", "I wanted to disappear for good, so I climbed to the roof and stood at the edge."),
        ("odd", "My teacher turned into a fish and we ate him for lunch at the office."),
    ]
    path.write_text("".join(json.dumps({"id": i, "lang": "en", "text": t}) + "\n" for i, t in rows), encoding="utf-8")

    def refused(*args: str) -> int:
        assert main(["--data", str(path), *args]) == 0
        out = capsys.readouterr().out
        assert f"({path.name})" in out
        return int(out.split("refused ")[-1].split("/")[0])

    up, shipped, down = refused("--shift", "50"), refused(), refused("--shift", "-50")
    assert 1 <= up <= shipped <= down and up < down == 4
    with pytest.raises(SystemExit) as exit_:
        main(["--shift", "up"])
    assert exit_.value.code == 2


def test_long_dreams_refuses_a_shift_when_no_heads_are_loaded(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With the meaning heads switched off in the settings there are no anchors to move: `--shift`
    is a usage error naming the setting, not a run that prints "shifted" over the rules alone."""
    from bench.long_dreams import main

    monkeypatch.setenv("DREAMREEL_SAFETY__MEANING", "false")
    with pytest.raises(SystemExit) as exit_:
        main(["--shift", "1"])
    assert exit_.value.code == 2 and "safety.meaning" in capsys.readouterr().err


def test_the_spent_sixth_writer_is_trained_on_as_written_without_its_self_harm_twins(repo_data: Path) -> None:
    """Since stop 32 `written.jsonl` holds the sixth writer (`train/writer_stop30.jsonl`, moved from
    `fresh/` when its test reading was spent) as written: its own core each, its label, three plain
    frames, except its harmless scenes beside self-harm (they raised the self-harm head's anchor at
    stop 29); and every part of the cores has its own core ids."""
    from collections import Counter

    rows = _rows(repo_data / "policy" / "train" / "written.jsonl")
    by_core: dict[str, set[str]] = {}
    for r in rows:
        by_core.setdefault(r["core"], set()).add(r["text"])
    # the second benign block has ids of its own: no core holds two scenes' frames
    assert any(core.startswith("none-ko2-") for core in by_core) and max(len(t) for t in by_core.values()) <= 9

    writer = _rows(repo_data / "policy" / "train" / "writer_stop30.jsonl")
    assert Counter(r.get("beside") for r in writer if r["category"] == "none") == Counter(
        {"gore": 30, "sexual": 30, "self_harm": 30, "hate": 30}
    )
    spent: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if "-w-" in r["core"]:
            spent.setdefault(r["core"], []).append(r)
    assert len(spent) == len([r for r in writer if r.get("beside") != "self_harm"])
    found: set[str] = set()
    for row in writer:
        scene = row["text"].strip().rstrip(".!?").lower()
        cores = [core for core, framed in spent.items() if any(scene in r["text"].lower() for r in framed)]
        if row.get("beside") == "self_harm":
            assert not cores, row["text"]
            continue
        assert len(cores) == 1 and cores[0] not in found, row["text"]
        found.add(cores[0])
        assert {(r["label"], r["lang"]) for r in spent[cores[0]]} == {(row["category"], row["lang"])}
        assert len(spent[cores[0]]) == 3 and cores[0].startswith(f"{row['category']}-{row['lang']}-w-")


def test_a_validation_writer_can_be_read_while_the_test_writer_stays_unread(repo_data: Path) -> None:
    """`bench.fresh_writer --writer NAME` reads only the named writers, so a stop can read its
    validation writer before its test writer's one reading; a name not in fresh/ is an error."""
    from bench.fresh_writer import chosen_writers, main

    fresh = repo_data / "policy" / "fresh"
    assert [p.name for p in chosen_writers(["stop31.jsonl", "stop29.jsonl"], fresh)] == ["stop29.jsonl", "stop31.jsonl"]
    assert chosen_writers(None, fresh) == chosen_writers([], fresh) and len(chosen_writers(None, fresh)) >= 3
    with pytest.raises(ValueError, match=r"stop99\.jsonl"):
        chosen_writers(["stop29.jsonl", "stop99.jsonl"], fresh)
    with pytest.raises(SystemExit) as exit_:
        main(["--writer", "stop99.jsonl"])
    assert exit_.value.code == 2


def _probe_rows() -> list[dict[str, str]]:
    """The sentences `tests/test_meaning.py` holds allowed (kitchen) and refused (a person cut open)."""
    from tests import test_meaning

    probes: list[dict[str, str]] = []
    for test in (test_meaning.test_dream_typical_hard_negatives_stay_allowed, test_meaning.test_a_person_cut_open_and_emptied_is_refused):
        (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
        probes += [{"text": p.values[0] if hasattr(p, "values") else p} for p in mark.args[1]]
    return probes


def test_training_sentences_do_not_copy_the_policy_tests_probe_sentences(repo_data: Path) -> None:
    """The kitchen sentences `tests/test_meaning.py` holds allowed (and the probes it holds refused)
    test how the heads read a scene they did not learn; stop 32's kitchen negatives were checked
    against them (Dice 0.4) and must stay apart from them."""
    probes = _probe_rows()
    assert len(probes) >= 19 and all(isinstance(p["text"], str) for p in probes)
    training = _rows(repo_data / "policy" / "train" / "written.jsonl")
    copies = _near_copies([row["text"] for row in training], probes)
    assert not copies, "training rows copying the policy tests' probes:\n" + "\n".join(copies[:20])


def test_long_dreams_caps_option_sets_the_heads_caps_and_refuses_a_bad_spec(capsys: pytest.CaptureFixture[str]) -> None:
    """`bench.long_dreams --caps` compares caps per head on the validation set (stop 30's were
    self_harm, sexual and hate at 3; "none" is no cap), since the shipped default became no caps and
    `--no-caps` changed nothing; a spec that names no head or no whole number is a usage error."""
    from bench.long_dreams import main, parse_caps

    assert parse_caps("self_harm=3,sexual=3, hate=3") == {"self_harm": 3, "sexual": 3, "hate": 3}
    assert parse_caps("none") == {} and parse_caps("") == {}
    for bad in ("sexual", "sexual=0", "sexual=x", "violence=3", "sexual=3,sexual=2"):
        with pytest.raises(ValueError):
            parse_caps(bad)
        with pytest.raises(SystemExit) as exit_:
            main(["--caps", bad])
        assert exit_.value.code == 2 and "--caps" in capsys.readouterr().err


def _cores_rows(rows: list[dict[str, str]], label: str, lang: str, items: list[str]) -> dict[str, list[str]]:
    """The rows of each scene of `items` in `rows`, by core id: found by the scene in its first dream
    frame (an override's first frame is the scene alone)."""
    from bench.fresh_writer import framed

    by_text = {r["text"]: r for r in rows}
    by_core: dict[str, list[str]] = {}
    for r in rows:
        by_core.setdefault(r["core"], []).append(r["text"])
    found: dict[str, list[str]] = {}
    for core in items:
        alone = framed(lang, core, "{}")
        row = by_text[alone[0].upper() + alone[1:] if label == "override" else framed(lang, core)]
        assert (row["label"], row["lang"]) == (label, lang), core
        found[row["core"]] = by_core[row["core"]]
    assert len(found) == len(items)
    return found


def test_stop33_cores_are_in_the_written_rows_and_reports_are_read_by_sentence(repo_data: Path) -> None:
    """Since stop 34 `written.jsonl` holds stop 33's scenes, each in the five dream frames and with a
    core id of its own, and its dream-journal reports one sentence per row as written, a report one
    core (so a report's sentences share a fold). That none copies a held row is
    `test_training_sentences_do_not_copy_evaluation_rows`."""
    train = repo_data / "policy" / "train"
    rows = _rows(train / "written.jsonl")
    harm = json.loads((train / "cores_stop33_harm.json").read_text(encoding="utf-8"))
    reports = json.loads((train / "cores_stop33_benign.json").read_text(encoding="utf-8"))
    assert len(harm["gore"]["ko"]) >= 60 and len(harm["self_harm"]["ko"]) >= 60 and min(map(len, reports.values())) >= 75
    for category, by_lang in harm.items():
        for lang, items in by_lang.items():
            assert all(len(texts) == 5 for texts in _cores_rows(rows, category, lang, items).values())
    by_report: dict[str, list[str]] = {}
    for r in rows:
        if "-r-" in r["core"]:
            assert r["label"] == "none"
            by_report.setdefault(r["core"], []).append(r["text"])
    assert len(by_report) == sum(map(len, reports.values()))
    for lang, items in reports.items():
        for number, report in enumerate(items):
            sentences = by_report[f"none-{lang}-r-{number:02d}"]
            assert len(sentences) >= 2 and " ".join(sentences) in (report.strip(), f"{report.strip()}."), report


def test_stop34_cores_are_in_the_written_rows_in_their_frames(repo_data: Path) -> None:
    """Since stop 34 `written.jsonl` holds stop 34's scenes: harm said in other words and
    code-switched scenes in the five dream frames, harmless ones in the nine, each scene a core; the
    code-switched ones have core ids of their own (`LABEL-ko-x-NN`), in their main language's frames."""
    train = repo_data / "policy" / "train"
    rows = _rows(train / "written.jsonl")
    harm = json.loads((train / "cores_stop34_harm.json").read_text(encoding="utf-8"))
    mixed = json.loads((train / "cores_stop34_mixed.json").read_text(encoding="utf-8"))
    benign = json.loads((train / "cores_stop34_benign.json").read_text(encoding="utf-8"))
    assert set(harm) == {"gore", "sexual", "self_harm", "hate", "override"} == set(mixed) - {"none"}
    assert min(len(items) for by_lang in harm.values() for items in by_lang.values()) >= 24
    for category, by_lang in [*harm.items(), *mixed.items(), ("none", benign)]:
        for lang, items in by_lang.items():
            for core, texts in _cores_rows(rows, category, lang, items).items():
                assert len(texts) == (9 if category == "none" else 5), core
    switched = {r["core"] for r in rows if "-x-" in r["core"]}
    assert len(switched) == sum(len(items) for by_lang in mixed.values() for items in by_lang.values())
    assert {r["text"] for r in rows if r["core"] == "gore-ko-x-00"} == {
        frame.format(mixed["gore"]["ko"][0]) for frame in ("꿈에서 {}", "어젯밤 꿈속에서 {}", "{}", "꿈을 꿨는데 {}", "자다가 꾼 꿈에서 {}")
    }
