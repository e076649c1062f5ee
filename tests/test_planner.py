"""The offline RulePlanner: coverage, order, exact spans, scene boundaries, prompts, keywords."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.interfaces import Planner
from agent.keywords import extract_keywords
from agent.planner import PROMPT_PREFIX, RulePlanner, choose_cuts
from agent.safety.rewrite import has_gore_words
from agent.schemas import DreamPlan
from agent.style import choose_style
from agent.text import split_sentences
from dreamreel.settings import DEFAULT_STYLES

KO_DIARY = (
    "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다. "
    "고래 뱃속에는 어릴 적 살던 집이 있었고, 엄마가 저녁을 차리고 계셨다."
)


def assert_plan_covers(plan: DreamPlan, text: str, segments: int) -> None:
    sentences = split_sentences(text)
    assert len(plan.segments) == max(1, min(segments, len(sentences)))
    assert [s.index for s in plan.segments] == list(range(len(plan.segments)))
    position = 0
    for segment in plan.segments:
        assert segment.text == text[segment.span.start : segment.span.end] == segment.span.text
        assert segment.text == segment.text.strip()
        assert segment.span.start >= position  # in order, no overlap
        assert text[position : segment.span.start].strip() == ""  # nothing dropped between scenes
        position = segment.span.end
        assert segment.prompt.startswith(PROMPT_PREFIX)
        assert not has_gore_words(segment.prompt)
    assert text[position:].strip() == ""
    # every sentence lands in exactly one segment
    for sentence in sentences:
        owners = [s for s in plan.segments if s.span.start <= sentence.start and sentence.end <= s.span.end]
        assert len(owners) == 1, sentence.text


def test_rule_planner_is_a_planner() -> None:
    assert isinstance(RulePlanner(), Planner)
    assert RulePlanner().name == "rules"


@pytest.mark.parametrize("segments", [1, 2, 3, 6])
def test_korean_diary_is_covered(segments: int) -> None:
    plan = RulePlanner().plan(KO_DIARY, segments=segments)
    assert plan.language == "ko"
    assert plan.planner == "rules"
    assert_plan_covers(plan, KO_DIARY, segments)


def test_korean_prompt_translates_dream_nouns() -> None:
    plan = RulePlanner().plan(KO_DIARY, segments=2)
    prompts = " ".join(s.prompt for s in plan.segments)
    for word in ("sea", "sky", "whale", "house", "mother"):
        assert word in prompts
    assert all("cinematic" in s.prompt for s in plan.segments)
    assert "바다" in plan.segments[0].keywords
    assert "고래" in " ".join(k for s in plan.segments for k in s.keywords)


def test_scene_marker_wins_over_perfect_balance() -> None:
    text = "I walked along the beach for a while. The sand was warm. Suddenly the sea rose up. It swallowed the town."
    plan = RulePlanner().plan(text, segments=2)
    assert plan.segments[1].text.startswith("Suddenly")


def test_paragraph_break_is_a_scene_boundary() -> None:
    text = "학교 복도를 걷고 있었다. 복도는 끝이 없었다. 창밖은 어두웠다.\n\n눈을 떠보니 할머니 집 마당이었다."
    plan = RulePlanner().plan(text, segments=2)
    assert plan.segments[1].text == "눈을 떠보니 할머니 집 마당이었다."


def test_balanced_lengths_without_markers() -> None:
    sentences = split_sentences(" ".join(f"Sentence number {i} is here." for i in range(12)))
    cuts = choose_cuts(sentences, 3)
    assert cuts == [4, 8]


def test_fewer_sentences_than_segments() -> None:
    plan = RulePlanner().plan("A single short dream about a cat.", segments=4)
    assert len(plan.segments) == 1
    assert plan.segments[0].text == "A single short dream about a cat."


@pytest.mark.parametrize("segments", [0, 7, -1])
def test_segments_out_of_range(segments: int) -> None:
    with pytest.raises(ValueError):
        RulePlanner().plan(KO_DIARY, segments=segments)


def test_leading_and_trailing_whitespace_spans_stay_exact() -> None:
    text = "\n\n  I was lost in a subway station.   Then the stairs turned to water.  \n"
    plan = RulePlanner().plan(text, segments=2)
    assert_plan_covers(plan, text, 2)
    assert plan.segments[0].span.start == 4


def test_mixed_diary_keywords_and_prompt() -> None:
    text = (
        "I was in Seoul, 명동 거리 한복판에서 우산을 쓰고 있었는데 비 대신 별이 떨어졌다. "
        "People were collecting the stars in glass jars, and 나도 하나 주워서 주머니에 넣었다."
    )
    plan = RulePlanner().plan(text, segments=2)
    assert plan.language == "mixed"
    assert_plan_covers(plan, text, 2)
    first = plan.segments[0]
    assert "Myeongdong" in first.prompt and "umbrella" in first.prompt
    assert "명동" in first.keywords and "Seoul" in first.keywords


def test_english_keywords_use_yake() -> None:
    keywords = extract_keywords("A fox in a red scarf handed me a glowing key in an endless library.", "en")
    assert keywords
    assert any("key" in k.lower() for k in keywords)


def test_nightmare_prompt_keeps_fear_drops_gore() -> None:
    text = "A masked man chased me through a dark forest. Then I saw a pool of blood and a corpse by the lake."
    plan = RulePlanner().plan(text, segments=2)
    last = plan.segments[1].prompt
    assert not has_gore_words(last)
    assert "no gore" in last
    assert "lake" in last


def test_planner_covers_every_sentence_of_dreambank(repo_data: Path) -> None:
    """Coverage measured on 100 real dream reports: every sentence in exactly one scene."""
    planner = RulePlanner()
    rows = [json.loads(line) for line in (repo_data / "dreams_en.jsonl").open(encoding="utf-8")]
    assert len(rows) == 100
    for row in rows:
        for segments in (2, 5):
            plan = planner.plan(row["text"], segments=segments)
            assert plan.language == "en", row["id"]
            assert_plan_covers(plan, row["text"], segments)


def test_choose_style_from_table() -> None:
    assert choose_style("fear", DEFAULT_STYLES).name == "fear"
    assert choose_style("fear", DEFAULT_STYLES).negative_prompt.startswith("gore")
    assert choose_style(None, DEFAULT_STYLES).name == "neutral"
    assert choose_style("bewilderment", DEFAULT_STYLES).name == "neutral"
    assert choose_style("joy", {}).name == "neutral"


_PIECES = [
    "I ran.", "Then the sea rose!", "Dr. Smith waved", "바다 위를 날았다.", "갑자기 고래가 나타났다",
    "그리고 집에 갔다", "\"Wow,\" he said.", "3.5 km later", "…", "?!", "꿈", "ok",
]


@settings(max_examples=40, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12),
    seps=st.lists(st.sampled_from([" ", "  ", "\n", "\n\n", " \n \n", "\t"]), min_size=12, max_size=12),
    segments=st.integers(min_value=1, max_value=6),
)
def test_any_diary_is_covered_in_order(pieces: list[str], seps: list[str], segments: int) -> None:
    text = seps[0] + "".join(p + s for p, s in zip(pieces, [*seps[1:], ""], strict=False))
    plan = RulePlanner().plan(text, segments=segments)
    assert_plan_covers(plan, text, segments)
