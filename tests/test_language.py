"""Language detection, text checks and sentence splitting with exact offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.language import TextRejected, check_text, detect_language
from agent.text import morphemes, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("어젯밤 꿈에서 나는 바다 위를 날고 있었다.", "ko"),
        ("I was flying over the sea last night.", "en"),
        ("카페에서 Netflix를 보다가 잠이 들었는데 고래가 나타났다.", "ko"),
        ("I was in Seoul, 명동 거리 한복판에서 우산을 쓰고 있었는데 별이 떨어졌다. People were collecting them.", "mixed"),
        ("12345 !!!", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_language_on_cases(repo_data: Path) -> None:
    rows = [json.loads(line) for line in (repo_data / "dream_cases.jsonl").open(encoding="utf-8")]
    by_id = {row["id"]: detect_language(row["text"]) for row in rows}
    assert all(by_id[i] == "ko" for i in by_id if i.startswith("ko-"))
    assert all(by_id[i] == "en" for i in by_id if i.startswith(("en-", "dreambank")))
    assert by_id["mix-dev-01"] == "mixed"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("abc\x00def", "binary"),
        ("꿈에서 \ufffd\ufffd 봤다", "binary"),
        ("hello\x07 world", "binary"),
        ("1234 5678 !!!! ???? 0000", "not_text"),
        ("Мне снилось, что я летаю над морем.", "unsupported_script"),
        ("حلمت أنني أطير فوق البحر", "unsupported_script"),
        ("ฉันฝันว่าฉันบินอยู่เหนือทะเล", "unsupported_script"),
        ("我梦见自己在海上飞翔", "unsupported_script"),
    ],
)
def test_check_text_rejects(text: str, code: str) -> None:
    with pytest.raises(TextRejected) as info:
        check_text(text)
    assert info.value.reason_code == code
    assert info.value.detail


@pytest.mark.parametrize(
    "text",
    [
        "꿈에서 고래를 봤다.",
        "I dreamt of a whale.\n\nThen it flew away!",
        "I was in Seoul, 명동에서 별이 떨어졌다 🌟",
        "Мой друг Alex and I were flying over the sea in my dream last night.",  # a little Cyrillic is fine
    ],
)
def test_check_text_accepts(text: str) -> None:
    check_text(text)


def test_sentences_keep_exact_offsets_and_cover_everything() -> None:
    text = "Dr. Kim met me at 3.5 km.\n\nThen we flew! \"Wow,\" he said.  나는 학교에 갔다 그리고 친구를 만났다\n끝"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Dr. Kim met me at 3.5 km.",
        "Then we flew!",
        '"Wow," he said.',
        "나는 학교에 갔다 그리고 친구를 만났다",
        "끝",
    ]
    assert [s.paragraph_start for s in sentences] == [False, True, False, False, False]
    for s in sentences:
        assert text[s.start : s.end] == s.text
    covered = "".join(s.text for s in sentences)
    assert "".join(covered.split()) == "".join(text.split())


def test_korean_sentences_without_punctuation_are_split() -> None:
    sentences = split_sentences("나는 학교에 갔다 그리고 친구를 만났다 갑자기 비가 왔다")
    assert len(sentences) >= 2
    assert sentences[-1].text.endswith("비가 왔다")


def test_morphemes_give_lemmas_and_offsets() -> None:
    text = "룸메이트를 찔러 살해했다"
    tokens = morphemes(text)
    lemmas = {m.lemma for m in tokens}
    assert "찌르다" in lemmas
    assert "살해하다" in lemmas
    for m in tokens:
        assert 0 <= m.start <= m.end <= len(text)
    assert "시발점" in {m.form for m in morphemes("시발점에서 출발했다")}
