"""The LLM planner: a diary becomes a `DreamPlan` through any OpenAI-compatible chat endpoint.

How it works, top to bottom:

1. `agent.text.split_sentences` cuts the diary into sentences with their character spans (the
   same cut the rule planner uses).
2. The prompt (`agent.prompts`) shows them numbered between `<diary>` markers, as data; the model
   only chooses where scenes start and end (`first_sentence`/`last_sentence`), writes an English
   visual prompt, keywords and an emotion per scene, and flags policy concerns.
3. The reply arrives through langchain's `ChatOpenAI.with_structured_output` with the configured
   method (`json_schema`, `function_calling`), or as a `json_object` parsed here against the
   schema that the system prompt spells out (for servers that accept neither).
4. `check_reply` validates it: scenes cover every sentence once and in order, the scene count is
   the one asked for, prompts are non-empty English, and no prompt carries out an instruction
   found inside the diary. Instructions inside the diary are always flagged as `override`.
5. An invalid reply is retried once, with the reason; a second failure, an HTTP error (after the
   client's own retries) or a timeout hands the diary to the fallback (rule) planner, and the plan
   records it: `planner="rules (llm failed: <why>)"` instead of `"llm:<model>"`, where <why> is
   `HTTP 429`, `timeout after 60s`, `unreachable`, `invalid output` or `unexpected <Error>` (the
   label fits the 64-character `jobs.planner` column; the full reason is logged).

langchain and openai are imported lazily, so the offline default never needs them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from collections.abc import Sequence
from typing import Any, Literal, Protocol
from urllib.parse import urlparse

from pydantic import BaseModel, SecretStr, ValidationError

from agent import prompts
from agent.canonical import canonical
from agent.language import detect_language
from agent.schemas import MAX_SEGMENTS, DreamPlan, Emotion, Language, SafetyFlag, Segment, Span
from agent.text import HANGUL_RE, split_sentences

log = logging.getLogger(__name__)

StructuredOutput = Literal["json_schema", "function_calling", "json_object"]
FlagCategory = Literal["gore", "sexual", "minors", "hate", "self_harm", "override"]

# DreamPlan.planner is stored in a 64-character column (storage.models.Job.planner); the detailed
# reason for a fallback goes to the log.
PLANNER_LABEL_MAX = 64
_INSTALL_HINT = "the LLM planner needs langchain-openai: pip install 'dreamreel[llm]'"


class FallbackPlanner(Protocol):
    """What the LLM planner needs from the planner it falls back to (the offline rule planner)."""

    def plan(self, text: str, *, segments: int, language: Language | None = None) -> DreamPlan: ...


# --- the schema the model answers in -------------------------------------------------------------
# No defaults and no numeric constraints: OpenAI's strict json_schema mode and llama.cpp's grammar
# both take this plain shape; the limits are checked in `check_reply`, with readable reasons.


class SceneReply(BaseModel):
    """One scene: a run of consecutive diary sentences and how it should look."""

    first_sentence: int
    last_sentence: int
    prompt: str
    keywords: list[str]
    emotion: Emotion


class FlagReply(BaseModel):
    """A content-policy concern the model sees in the diary."""

    category: FlagCategory
    score: float
    sentence: int | None


class PlanReply(BaseModel):
    """The planner's answer: scenes in diary order and safety flags."""

    scenes: list[SceneReply]
    safety_flags: list[FlagReply]


class InvalidReply(ValueError):
    """The model answered, but the answer is not a valid plan of this diary."""


# --- sentences, language, injected instructions --------------------------------------------------

# Instructions aimed at the planner. Narrow on purpose: dreams are full of rules broken and
# orders given ("I had to ignore the rules", "넌 이제 끝이야"), and an `override` flag sends the
# diary to a moderator.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|the\s+)?"
    r"(previous|prior|above|earlier|preceding|your|system|safety|these|those)\s+(\w+\s+)?"
    r"(instructions?|rules|prompts?|directions|polic(y|ies)|filters?|guidelines)\b"
    r"|\b(ignore|disregard)\s+(all|any)\s+(instructions|rules|prompts)\b"
    r"|\b(system|developer)\s+prompt"
    r"|(이전|앞의|위의|기존|모든|너의|시스템)\s*(지시|명령|규칙|지침|프롬프트)\S*\s*(\S+\s*)?(무시|잊어|잊고|우회)"
    r"|시스템\s*프롬프트",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“「『]([^\"”」』]{3,})[\"”」』]|(?<![A-Za-z])[‘']([^’']{3,})[’'](?![A-Za-z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
# words of the instruction itself, not of what it asks for
_INSTRUCTION_WORDS = frozenset(
    {
        "ignore", "ignoring", "disregard", "forget", "override", "bypass", "previous", "prior", "above",
        "earlier", "instead", "instruction", "instructions", "rule", "rules", "prompt", "prompts", "system",
        "developer", "scene", "scenes", "every", "each", "write", "output", "answer", "respond", "reply",
        "make", "describe", "return", "just", "only", "must", "should", "from", "please", "text", "this",
        "that", "with", "into", "your", "their", "them", "they", "then", "these", "those", "show", "draw",
        "render", "paint", "picture", "image", "video",
    }
)


def sentence_spans(text: str) -> list[Span]:
    """The diary's sentences as spans, split the way every planner splits them (`agent.text`)."""
    return [Span(start=s.start, end=s.end, text=s.text) for s in split_sentences(text)]


def injected_sentences(sentences: Sequence[Span]) -> list[int]:
    """Indices (0-based) of sentences that try to give the planner instructions."""
    return [i for i, s in enumerate(sentences) if _INJECTION.search(canonical(s.text))]


# --- checking a reply ----------------------------------------------------------------------------


def check_reply(
    reply: PlanReply, text: str, sentences: Sequence[Span], n_scenes: int
) -> tuple[list[Segment], list[SafetyFlag]]:
    """Turn a model reply into segments and flags, or raise `InvalidReply` saying what is wrong."""
    scenes = reply.scenes
    if len(scenes) != n_scenes:
        raise InvalidReply(f"expected {n_scenes} scene(s), got {len(scenes)}")
    expected_first = 1
    for i, scene in enumerate(scenes):
        if scene.first_sentence != expected_first:
            raise InvalidReply(
                f"scene {i + 1} starts at sentence {scene.first_sentence}, expected {expected_first}"
            )
        if scene.last_sentence < scene.first_sentence:
            raise InvalidReply(f"scene {i + 1} ends before it starts")
        expected_first = scene.last_sentence + 1
    if expected_first - 1 != len(sentences):
        raise InvalidReply(f"scenes end at sentence {expected_first - 1}, the diary has {len(sentences)}")
    for i, scene in enumerate(scenes):
        problem = _prompt_problem(scene.prompt)
        if problem:
            raise InvalidReply(f"scene {i + 1}: {problem}")
    injected = injected_sentences(sentences)
    if injected:
        _check_not_obeyed(scenes, sentences, injected)

    segments = []
    for i, s in enumerate(scenes):
        span = _join(text, sentences[s.first_sentence - 1], sentences[s.last_sentence - 1])
        segments.append(
            Segment(
                index=i,
                text=span.text,
                span=span,
                prompt=" ".join(s.prompt.split()),
                keywords=_english_keywords(s.keywords),
                emotion=s.emotion,
            )
        )
    flags = _flags(reply.safety_flags, sentences)
    flagged = {f.span.start for f in flags if f.category == "override" and f.span is not None}
    return segments, flags + [f for f in override_flags(sentences, injected) if f.span and f.span.start not in flagged]


def _prompt_problem(prompt: str) -> str | None:
    words = prompt.split()
    if len(words) < 2:
        return "prompt is empty or a single word"
    if len(prompt) > 1200:
        return "prompt longer than 1200 characters"
    if HANGUL_RE.search(prompt):
        return "prompt is not English (contains Hangul)"
    letters = [c for c in prompt if c.isalpha()]
    if sum(c.isascii() for c in letters) < 0.9 * len(letters):
        return "prompt is not English"
    if _INJECTION.search(prompt):
        return "prompt contains instruction text"
    return None


def _check_not_obeyed(scenes: Sequence[SceneReply], sentences: Sequence[Span], injected: list[int]) -> None:
    """A prompt that carries an injected sentence's payload into scenes it is not part of obeyed it;
    so does one prompt copied over every scene (what "write X as every prompt" produces)."""
    prompts = [" ".join(scene.prompt.lower().split()) for scene in scenes]
    if len(prompts) > 1 and len(set(prompts)) == 1:
        raise InvalidReply("every scene has the same prompt, as an instruction inside the diary asked")
    for j in injected:
        instruction = sentences[j].text
        quoted = [(a or b).strip().lower() for a, b in _QUOTED.findall(instruction)]
        payload = _words(instruction) - _INSTRUCTION_WORDS
        for n, scene in enumerate(scenes):
            if scene.first_sentence - 1 <= j <= scene.last_sentence - 1:
                continue
            prompt = scene.prompt.lower()
            if any(q in prompt for q in quoted):
                raise InvalidReply(f"scene {n + 1} follows an instruction written in diary sentence {j + 1}")
            own = " ".join(s.text for s in sentences[scene.first_sentence - 1 : scene.last_sentence])
            carried = (payload & _words(prompt)) - _words(own)
            if len(carried) >= 2 and len(carried) * 2 >= len(payload):
                raise InvalidReply(
                    f"scene {n + 1} carries words of an instruction in diary sentence {j + 1}: "
                    f"{', '.join(sorted(carried))}"
                )


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def override_flags(sentences: Sequence[Span], injected: list[int] | None = None) -> list[SafetyFlag]:
    """An `override` flag for each sentence that tries to instruct the planner."""
    indices = injected_sentences(sentences) if injected is None else injected
    return [SafetyFlag(category="override", score=1.0, span=sentences[j]) for j in indices]


def _flags(replies: Sequence[FlagReply], sentences: Sequence[Span]) -> list[SafetyFlag]:
    flags = []
    for f in replies:
        span = sentences[f.sentence - 1] if f.sentence is not None and 1 <= f.sentence <= len(sentences) else None
        flags.append(SafetyFlag(category=f.category, score=min(1.0, max(0.0, f.score)), span=span))
    return flags


def _english_keywords(keywords: Sequence[str]) -> list[str]:
    kept = [" ".join(k.split()) for k in keywords if k.strip() and not HANGUL_RE.search(k)]
    return list(dict.fromkeys(kept))[:8]


def _join(text: str, first: Span, last: Span) -> Span:
    return Span(start=first.start, end=last.end, text=text[first.start : last.end])


# --- the planner ---------------------------------------------------------------------------------


class LLMPlanner:
    """Plans a diary with a chat model behind an OpenAI-compatible endpoint, else with `fallback`."""

    def __init__(
        self,
        *,
        base_url: str | None,
        model: str,
        fallback: FallbackPlanner,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        structured_output: StructuredOutput = "json_schema",
        temperature: float = 0.2,
        max_tokens: int = 2048,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.name = _one_line(f"llm:{model}", PLANNER_LABEL_MAX)
        self.fallback = fallback
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.structured_output = structured_output
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._runnable: Any = None
        if importlib.util.find_spec("langchain_openai") is None:
            raise ImportError(_INSTALL_HINT)

    def plan(self, text: str, *, segments: int, language: Language | None = None) -> DreamPlan:
        """Plan `text` into `segments` scenes (fewer if it has fewer sentences); never raises for
        LLM trouble: the fallback planner takes over and `DreamPlan.planner` says why."""
        import openai  # lazy: a dependency of langchain-openai

        sentences = sentence_spans(text)
        if not sentences:
            return self._fall_back(text, segments, language, "the diary has no sentences")
        language = language or detect_language(text)
        n_scenes = max(1, min(segments, len(sentences), MAX_SEGMENTS))
        messages = self._messages(sentences, n_scenes, language)
        why = detail = "no attempt made"
        for attempt in (1, 2):
            try:
                reply = self._ask(messages)
                plan_segments, flags = check_reply(reply, text, sentences, n_scenes)
            except openai.APITimeoutError:
                why = detail = f"timeout after {self.timeout:g}s"
                break
            except openai.APIStatusError as e:
                why, detail = f"HTTP {e.status_code}", f"HTTP {e.status_code}: {_one_line(e)}"
                break
            except openai.APIConnectionError as e:
                why, detail = "unreachable", f"cannot reach {self.base_url}: {_one_line(e)}"
                break
            except (InvalidReply, ValidationError, ValueError, openai.LengthFinishReasonError) as e:
                why, detail = "invalid output", f"invalid output: {_one_line(e)}"
                log.warning("LLM plan attempt %d rejected: %s", attempt, detail)
                messages = [*messages, ("human", self._retry_message(e, n_scenes, len(sentences)))]
                continue
            except Exception as e:  # a planner failure must never lose the diary
                log.exception("LLM planner failed unexpectedly")
                why, detail = f"unexpected {e.__class__.__name__}", _one_line(e)
                break
            log.info("LLM plan accepted on attempt %d: %d scene(s)", attempt, len(plan_segments))
            return DreamPlan(language=language, segments=plan_segments, planner=self.name, safety_flags=flags)
        return self._fall_back(text, segments, language, why, sentences, detail=detail)

    # -- steps of `plan` --

    def _messages(self, sentences: Sequence[Span], n_scenes: int, language: str) -> list[tuple[str, str]]:
        system = prompts.SYSTEM_PROMPT.format(n_scenes=n_scenes, n_sentences=len(sentences))
        if self.structured_output == "json_object":
            schema = json.dumps(PlanReply.model_json_schema(), ensure_ascii=False)
            system += prompts.JSON_SCHEMA_INSTRUCTIONS.format(schema=schema)
        # The model reads the canonical text (`agent.canonical`), so no disguise reaches it or its prompts.
        numbered = "\n".join(f"[{i}] {_quote(canonical(s.text))}" for i, s in enumerate(sentences, start=1))
        user = prompts.USER_PROMPT.format(
            n_scenes=n_scenes, n_sentences=len(sentences), language=language, numbered_sentences=numbered
        )
        return [("system", system), ("human", user)]

    def _retry_message(self, error: Exception, n_scenes: int, n_sentences: int) -> str:
        return prompts.RETRY_PROMPT.format(
            reason=_one_line(error), n_scenes=n_scenes, n_sentences=n_sentences
        )

    def _ask(self, messages: list[tuple[str, str]]) -> PlanReply:
        """One call to the model; raises openai errors, or ValueError for an unusable answer."""
        runnable = self._chain()
        if self.structured_output == "json_object":
            message = runnable.invoke(messages)
            return PlanReply.model_validate_json(_strip_fences(str(message.content)))
        out = runnable.invoke(messages)
        if out.get("parsing_error") is not None:
            raise InvalidReply(f"reply does not match the schema: {_one_line(out['parsing_error'])}")
        parsed = out.get("parsed")
        if parsed is None:
            raise InvalidReply("reply holds no structured answer (missing tool call or not JSON)")
        return parsed if isinstance(parsed, PlanReply) else PlanReply.model_validate(parsed)

    def _chain(self) -> Any:
        """The chat model with structured output, built once."""
        if self._runnable is not None:
            return self._runnable
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as e:
            raise ImportError(_INSTALL_HINT) from e
        kwargs: dict[str, Any] = {}
        if _sends_legacy_max_tokens(self.base_url):
            # langchain sends `max_completion_tokens`, which llama.cpp and other local servers ignore
            kwargs["extra_body"] = {"max_tokens": self.max_tokens}
        llm = ChatOpenAI(
            base_url=self.base_url,
            api_key=SecretStr(self.api_key or "unused"),  # local servers take any key; the client needs one
            model=self.model,
            timeout=self.timeout,
            max_retries=self.max_retries,
            temperature=self.temperature,
            max_completion_tokens=self.max_tokens,
            **kwargs,
        )
        if self.structured_output == "json_object":
            self._runnable = llm.bind(response_format={"type": "json_object"})
        else:
            self._runnable = llm.with_structured_output(
                PlanReply, method=self.structured_output, include_raw=True
            )
        return self._runnable

    def _fall_back(
        self,
        text: str,
        segments: int,
        language: Language | None,
        why: str,
        sentences: Sequence[Span] | None = None,
        *,
        detail: str = "",
    ) -> DreamPlan:
        log.warning("LLM planner fell back to %s: %s", type(self.fallback).__name__, detail or why)
        plan = self.fallback.plan(text, segments=segments, language=language)
        flags = list(plan.safety_flags)
        for flag in override_flags(sentences or []):
            if not any(f.category == "override" and f.span == flag.span for f in flags):
                flags.append(flag)
        label = _one_line(f"{plan.planner} (llm failed: {why}", PLANNER_LABEL_MAX - 1) + ")"
        return plan.model_copy(update={"planner": label, "safety_flags": flags})


def _sends_legacy_max_tokens(base_url: str | None) -> bool:
    """OpenAI itself honours `max_completion_tokens` and its reasoning models refuse `max_tokens`."""
    host = urlparse(base_url).hostname if base_url else "api.openai.com"
    return host != "api.openai.com"


def _quote(sentence: str) -> str:
    # The diary cannot close or reopen the <diary> block.
    return sentence.replace("<", "‹").replace(">", "›")


def _strip_fences(content: str) -> str:
    content = content.strip()
    if content.startswith("```"):
        content = content.split("\n", 1)[1] if "\n" in content else ""
        content = content.rsplit("```", 1)[0]
    return content


def _one_line(error: object, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
