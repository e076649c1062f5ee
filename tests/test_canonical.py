"""The canonical text (`agent.canonical`): disguises undone, offsets kept, prompts written from it."""

from __future__ import annotations

import unicodedata
import uuid

import pytest

from agent.canonical import canonical, canonicalize
from agent.language import check_text, detect_language
from agent.planner import RulePlanner
from agent.safety.policy import SafetyPolicy
from tests.helpers import FAST_PREVIEW, cli_json

MINOR_SEX_KO = "꿈에서 어른이 아이와 성관계를 했다."


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (unicodedata.normalize("NFD", "성관계를 했다"), "성관계를 했다"),  # decomposed Hangul
        ("ㅅㅓㅇㄱㅘㄴㄱㅖ를 했다", "성관계를 했다"),  # compatibility jamo typed one by one
        ("ㅅㅔㄱㅅㅡ", "섹스"),
        ("ㄷㅏㄺ", "닭"),  # compound final
        ("성\u200b관\u200d계", "성관계"),  # zero-width space and joiner
        ("se\u00adx", "sex"),  # soft hyphen
        ("ѕех", "sex"),  # Cyrillic look-alikes
        ("rаpе", "rape"),  # Cyrillic look-alikes in a Latin word
        ("ΚΙΝΟ", "KINO"),  # Greek capitals
        ("ｓｅｘ", "sex"),  # full-width
        ("𝐬𝐞𝐱", "sex"),  # mathematical bold
        ("s e x", "sex"),
        ("s.e.x", "sex"),
        ("r-a-p-e", "rape"),
        ("성 관 계를 했다", "성관계를 했다"),
        ("성.관.계", "성관계"),
        ("섹 스", "섹스"),  # a pair the rules know
        ("한 남 충들", "한남충들"),  # two syllables and a word after them: joined as a pair the rules know
        ("s3x", "sex"),
        ("r4p3", "rape"),
        ("k1ll", "kill"),
        # stop 21, tried as an evader: stacked diacritics (Zalgo), small capitals, letters
        # stretched out, a right-to-left override that shows "sex" for the stored "xes", the
        # Korean vowel ㅡ typed as a dash between syllables
        ("s\u0308e\u0308x\u0308 with a c\u0301h\u0301ild", "sex with a child"),
        ("s\u0336e\u0336x\u0336", "sex"),
        ("ꜱᴇx", "sex"),
        ("ʀᴀᴘᴇ", "rape"),
        ("seeexxx", "sex"),
        ("sssseeeexxxx", "sex"),
        ("had \u202exes\u202c with", "had sex with"),
        ("\u202ellik", "kill"),  # an override left open runs to the end of the line
        ("\u2066\u202exes\u2069 with a child", "sex with a child"),  # an isolate's end closes it too
        ("killll", "kill"),
        ("tttooorrrtttuuurrreeeddd", "tortured"),
        ("ccchhhiiilllddd", "child"),
        ("성ㅡ관ㅡ계를 했다", "성관계를 했다"),
        # two digits in front stay a number unless read as letters they spell a listed word (stop 25)
        ("55ex with a 4dult", "ssex with a adult"),
        ("he was k1ll3d, 00zing blood", "he was killed, 00zing blood"),
        ("어른이 아ㅡ이와", "어른이 아이와"),
    ],
)
def test_disguises_are_undone(written: str, expected: str) -> None:
    assert canonical(written) == expected


@pytest.mark.parametrize(
    "prose",
    [
        "I saw 3 cats at 3pm on the 2nd floor, 1.5 km away, and saved it as mp4.",
        "ㅋㅋㅋ 진짜 웃겼다 ㅠㅠ",
        "그 날 밤 꿈에서 나는 새 차를 샀다.",
        # Korean prose of one-syllable words, joined until stop 19 (8 % of the Korean training scenes)
        "내 방 안에서 찍은 사진이었다.",
        "텅 빈 교실에 혼자 앉아 있었다.",
        "해 질 녘 바닷가에서 몇 주 된 감자를 먹었다.",
        "줄 맨 앞에 서서 석 달 치 수업료를 냈다.",
        "a well-being check, an x-ray and a T-shirt",
        "I am 25 years old and it was 2024.",
        # numbers before letters, scores and sizes (mapped to letters until stop 25: 30yrs -> eoyrs)
        "I saw a 25yr old win the 1v1 and a 3v1, he is 30yrs old, a 2x4 board, 3days, 1920x1080, US$1.9b.",
        # one-syllable words of time and going (다간뒤, 세시반 until stop 25)
        "다 간 뒤에 세 시 반까지 할 수 있을 때 올 거야.",
        "Привет",  # a Russian word stays Russian
        "Help!! I was falling.",
        "Shh, the coffee was too hot. Good, see? Brr, it was cold.",  # two letters alike stay two
        "아ㅡ 진짜 꿈이 너무 길었다ㅡ 끝도 없이. 짜증나ㅡㅡ",  # ㅡ as a dash between words, and the face ㅡㅡ, stay
        "🇰🇷 태극기와 🇯🇵 일장기가 걸려 있었다",  # flags stay flags
        # stretched letters shorten only into a word the rules know (review, stop 21)
        "It was goooood, sooo sleeeepy. Zzz. We watched xxx videos, Part iii, AAA batteries.",
        "나는ㅡ정말로ㅡ무서웠다. 그날ㅡ비가 왔다.",  # words of two syllables around a dash stay
    ],
)
def test_ordinary_text_keeps_its_meaning(prose: str) -> None:
    assert canonical(prose) == prose


def test_latin_letters_lose_their_accents_and_keep_their_letters() -> None:
    # Marks above Latin letters fold away everywhere (a disguise may mark one letter: sëx); the
    # words stay readable for the video model, and Hangul is untouched.
    assert canonical("A naïve café owner in Zürich, a señora from São Paulo, 한글은 그대로.") == (
        "A naive cafe owner in Zurich, a senora from Sao Paulo, 한글은 그대로."
    )
    assert canonical("sëx") == "sex"
    # Roman numerals and links keep their repeated letters
    assert canonical("Henry VIII visited www.example.com in XXX") == "Henry VIII visited www.example.com in XXX"


@pytest.mark.parametrize(
    "written",
    [
        "꿈에서 \u202eㅈㅗㅂ\u202c 봤다",  # jamo reversed one by one under an override
        "\u202eㅖㄱㄴㅘㄱㅇㅓㅅ\u202c 를 했다",
        "\u202e" + unicodedata.normalize("NFD", "계관성") + "\u202c 를 했다",
        "\u202exes\u0308\u202c and more",
    ],
)
def test_every_canonical_character_maps_to_a_forward_span(written: str) -> None:
    """Review of stop 21: a syllable composed from reversed jamo got start > end and the verdict's
    Span raised; every canonical character must come from a non-empty stretch of the diary."""
    canon = canonicalize(written)
    assert all(0 <= a < b <= len(written) for a, b in zip(canon.starts, canon.ends, strict=True))
    verdict = SafetyPolicy().check(written)  # no ValidationError
    for reason in verdict.reasons:
        assert reason.span is not None and written[reason.span.start : reason.span.end] == reason.span.text


def test_spans_map_back_to_the_diary_as_written() -> None:
    written = "꿈에서 어른이 아이와 ㅅㅓㅇ\u200bㄱㅘㄴㄱㅖ를 했다."
    canon = canonicalize(written)
    assert canon.text == MINOR_SEX_KO
    start = canon.text.index("성관계")
    a, b = canon.original_span(start, start + 3)
    assert written[a:b] == "ㅅㅓㅇ\u200bㄱㅘㄴㄱㅖ"
    assert canon.canonical_span(a, b) == (start, start + 3)


@pytest.mark.parametrize(
    ("written", "disguised"),
    [
        ("I had s\u200be\u200bx with a little girl in the dream.", "s\u200be\u200bx"),
        # stop 21: text under a right-to-left override is read in the order shown, so canonical
        # characters run backwards over the diary; the span is still the diary's own characters
        ("I had \u202exes\u202c with a little girl in the dream.", "xes"),
    ],
)
def test_reason_spans_point_into_the_original_diary(written: str, disguised: str) -> None:
    verdict = SafetyPolicy().check(written)
    assert verdict.decision == "block"
    for reason in verdict.reasons:
        assert reason.span is not None
        assert written[reason.span.start : reason.span.end] == reason.span.text
    sexual = next(r for r in verdict.reasons if r.category == "sexual")
    assert disguised in sexual.span.text  # type: ignore[union-attr]


def test_nfd_reproduction_from_the_issue_is_blocked() -> None:
    """Issue 9: the NFD form of a blocked sentence was allowed (minors 1.0 only when composed)."""
    disguised = unicodedata.normalize("NFD", MINOR_SEX_KO)
    plain = SafetyPolicy().check(MINOR_SEX_KO)
    verdict = SafetyPolicy().check(disguised)
    assert verdict.decision == plain.decision == "block"
    assert {r.category for r in verdict.reasons} >= {"minors", "sexual"}


def test_nfd_reproduction_through_the_cli_dry_run() -> None:
    code, out = cli_json("dream", "--dry-run", unicodedata.normalize("NFD", MINOR_SEX_KO), env=FAST_PREVIEW)
    assert code == 0  # a dry run stops after the verdict
    assert out["verdict"]["decision"] == "block", out


@pytest.mark.parametrize(
    ("diary", "banned"),
    [
        ("I had s e x on the beach. Then I flew.", "s e x"),
        ("I watched p0rn on a giant screen. The waves came.", "p0rn"),
        ("ѕех with a stranger in a red room.", "ѕех"),
        ("ｓｅｘ in the elevator.", "ｓｅｘ"),
    ],
)
def test_no_disguised_word_reaches_a_prompt(diary: str, banned: str) -> None:
    plan = RulePlanner().plan(diary, segments=2)
    for segment in plan.segments:
        assert banned not in segment.prompt
        assert segment.prompt == canonical(segment.prompt)
    assert banned in "".join(s.text for s in plan.segments)  # the scene keeps the diary's own words



def _through_the_agent(diary: str) -> None:
    """What the service does with one diary before rendering: check, plan, screen."""
    check_text(diary)
    plan = RulePlanner().plan(diary, segments=2, language=detect_language(diary))
    assert SafetyPolicy().check(diary, plan).decision == "allow"


def _calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[str]:
    """The texts `module.name` is called with from now on."""
    seen: list[str] = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda text: (seen.append(text), real(text))[1])
    return seen


def _fresh_diary() -> str:
    return f"꿈 {uuid.uuid4().hex}: 나는 붉은 바다를 걸었다 그리고 하늘로 천천히 날아갔다. 파도가 높았다."


def test_one_diary_is_canonicalized_once_on_its_way_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """The language check, the planner and the policy all read the diary's canonical form."""
    import agent.canonical as canonical_module

    diary = _fresh_diary()
    canonicalized = _calls(monkeypatch, canonical_module, "_strip_and_compose")
    _through_the_agent(diary)
    assert canonicalized.count(diary) == 1


def test_one_diary_is_split_into_sentences_once_on_its_way_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner and the policy both cut the diary into sentences (a Kiwi pass over it)."""
    import agent.text as text_module

    diary = _fresh_diary()
    split = _calls(monkeypatch, text_module, "_cut_positions")
    _through_the_agent(diary)
    assert split.count(diary) == 1
