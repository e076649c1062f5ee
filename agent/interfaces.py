"""The small interfaces the rest of DreamReel codes against.

Each has an offline default in `agent/` (RulePlanner, the shipped emotion classifier, the
keyword rules) and real adapters (an LLM planner, transformers, detoxify). `dreamreel` picks
one per setting; tests run the same contract over every implementation that runs here.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agent.schemas import DreamPlan, EmotionResult, Language


@runtime_checkable
class Planner(Protocol):
    """Splits a diary into scenes with English visual prompts."""

    name: str

    def plan(self, text: str, *, segments: int, language: Language | None = None) -> DreamPlan:
        """Return a plan of min(segments, sentences) scenes covering the whole diary in order."""
        ...


@runtime_checkable
class EmotionClassifier(Protocol):
    """Reads the emotion of each text (one result per input, same order)."""

    def classify(self, texts: list[str]) -> list[EmotionResult]: ...


@runtime_checkable
class ToxicityClassifier(Protocol):
    """Scores each text's probability of being toxic, 0..1 (one score per input, same order)."""

    name: str

    def score(self, texts: list[str]) -> list[float]: ...
