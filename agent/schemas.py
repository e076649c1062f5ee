"""Pydantic schemas of what the agent decides about a diary.

These are the contract between `agent/` and the rest of DreamReel: the planner returns a
`DreamPlan`, the emotion classifier an `EmotionResult` per text, the safety step a
`SafetyVerdict`, and the style table turns an emotion into a `Style`.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, Field, model_validator

Emotion = Literal["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
EMOTIONS: tuple[Emotion, ...] = get_args(Emotion)  # in the Literal's order

Language = Literal["ko", "en", "mixed"]
Decision = Literal["allow", "review", "block"]

MIN_SEGMENTS = 1
MAX_SEGMENTS = 6


class Span(BaseModel):
    """A half-open character range `[start, end)` of the original diary, with its text."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end < self.start:
            raise ValueError("span end before start")
        return self


class Segment(BaseModel):
    """One scene of the dream: the diary's own words plus what the renderer needs."""

    index: int = Field(ge=0)
    text: str  # the diary's own words for this scene (never a summary)
    span: Span  # where `text` stands in the original diary
    prompt: str  # English visual prompt
    keywords: list[str] = Field(default_factory=list)
    emotion: Emotion | None = None  # hint from the planner; the classifier's label wins
    emotion_scores: dict[str, float] = Field(default_factory=dict)


class SafetyFlag(BaseModel):
    """A planner's (for instance the LLM's) own opinion on a policy category."""

    category: str
    score: float = Field(ge=0.0, le=1.0)
    span: Span | None = None


class DreamPlan(BaseModel):
    """The planner's output: scenes that cover the whole diary in order."""

    language: Language
    segments: list[Segment] = Field(min_length=MIN_SEGMENTS, max_length=MAX_SEGMENTS)
    planner: str = "rules"  # which planner produced this plan ("rules", "llm:<model>")
    safety_flags: list[SafetyFlag] = Field(default_factory=list)


class EmotionResult(BaseModel):
    label: Emotion
    scores: dict[str, float]  # every one of EMOTIONS -> probability-like score, sums to ~1


class Reason(BaseModel):
    """Why the safety step decided what it did; `span` points into the diary."""

    category: str  # gore, sexual, minors, hate, override, self_harm, profanity, toxicity
    score: float = Field(ge=0.0, le=1.0)
    span: Span | None = None
    source: str = "rules"  # which signal produced it (rules, classifier, detoxify, llm, ...)


class SafetyVerdict(BaseModel):
    decision: Decision
    reasons: list[Reason] = Field(default_factory=list)
    support_message: bool = False  # self-harm: the user also gets a short support message
    # allowed, but these sentences are left out of the video (a sexual or gory moment in an
    # otherwise ordinary dream; content policy in docs/architecture.md): nothing rendered reads them
    withheld: list[Span] = Field(default_factory=list)

    def renders(self, text: str, start: int = 0, end: int | None = None) -> bool:
        """Whether a model may read any of `text[start:end]` (the diary this verdict is of): the
        diary is allowed and a letter or digit of that part lies outside every withheld sentence."""
        if self.decision != "allow":
            return False
        stop = len(text) if end is None else end
        return any(
            text[i].isalnum() and not any(w.start <= i < w.end for w in self.withheld) for i in range(start, stop)
        )


class Style(BaseModel):
    """How a scene of a given emotion looks: palette and motion for the preview, prompt words for
    every backend. Emotion LoRAs of real backends live in the `[loras.FAMILY.EMOTION]` registry."""

    name: str
    palette: list[str] = Field(default_factory=lambda: ["#1d2b53", "#7e2553", "#ff77a8"])
    motion: str = "drift"  # drift | zoom | shake | pulse | fall | rise
    prompt_suffix: str = ""
    negative_prompt: str = ""
