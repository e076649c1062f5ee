"""`dreamreel analyze`: the agent's judgement of texts, without a job or a video.

Reads JSON lines ``{"text": ...}`` (a line that is not a JSON object is taken as the text itself)
and writes one JSON line each::

    {"language", "emotion", "emotion_scores", "verdict": {"decision", "reasons", "support_message", "withheld"},
     "planner", "segments"}

The steps are the pipeline's plan step (`DreamPipeline.step_plan`) with the same components from
`dreamreel.wiring`: plan the scenes, classify each scene's emotion, weigh them into one, screen the
text. `bench/eval.py` scores these answers against labelled data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from agent.interfaces import EmotionClassifier, Planner
from agent.language import TextRejected, check_text, detect_language
from agent.schemas import EmotionResult
from dreamreel.pipeline import understand_diary
from dreamreel.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class DiaryAnalyzer:
    """Planner, emotion classifier and safety policy, applied to one text at a time."""

    planner: Planner
    emotion: EmotionClassifier
    safety: Any  # agent.safety.policy.SafetyPolicy
    overall_emotion: Callable[[list[EmotionResult], list[float]], EmotionResult]
    segments: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> DiaryAnalyzer:
        """The components the pipeline would use, chosen by `settings` (see `dreamreel.wiring`)."""
        from agent.emotion import overall_emotion  # the pipeline's weighting of scene emotions
        from dreamreel.wiring import build_emotion, build_planner, build_safety

        return cls(
            planner=build_planner(settings),
            emotion=build_emotion(settings),
            safety=build_safety(settings),
            overall_emotion=overall_emotion,
            segments=settings.default_segments,
        )

    def analyze(self, text: str) -> dict[str, Any]:
        """One result: language, overall emotion and scores, verdict; `error` for unusable text."""
        try:
            check_text(text)
        except TextRejected as e:
            return {"language": None, "emotion": None, "emotion_scores": {}, "verdict": None, "error": str(e)}
        language = detect_language(text)
        judged = understand_diary(
            self.planner, self.emotion, self.safety, self.overall_emotion,
            text, segments=self.segments, language=language,
        )
        plan, overall, verdict = judged.plan, judged.overall, judged.verdict
        return {
            "language": language,
            "emotion": overall.label,
            "emotion_scores": {k: round(v, 4) for k, v in overall.scores.items()},
            "verdict": verdict.model_dump(mode="json"),
            "planner": plan.planner,
            "segments": len(plan.segments),
        }


def read_texts(lines: Iterable[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """(the input object, its text) per non-blank line; plain lines count as `{"text": line}`."""
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            obj = {"text": line.rstrip("\n")}
        yield obj, str(obj.get("text") or "")


def run_analyze(analyzer: DiaryAnalyzer, source: IO[str], out: IO[str]) -> int:
    """Analyze every line of `source` into `out`; returns how many lines were written."""
    count = 0
    for obj, text in read_texts(source):
        result = analyzer.analyze(text)
        if "id" in obj:
            result = {"id": obj["id"], **result}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
        count += 1
    return count
