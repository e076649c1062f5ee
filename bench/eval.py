"""`make eval`: how good the agent's judgement is on real labelled text (the repository's `data/`).

Runs the same analysis as `dreamreel analyze` (planner -> per-scene emotion -> overall emotion,
safety verdict; components chosen by settings, offline defaults unless configured) and prints:

- emotion macro-F1 and accuracy: English GoEmotions (Ekman level), Korean KOTE (mapped to the 7
  emotions with `agent.train.data.KOTE_TO_EMOTION`);
- toxicity balanced accuracy, English and Korean: the toxicity classifier alone (score >= the
  review threshold) and the whole verdict (anything but `allow` counts as flagged);
- decisions right on `dream_cases.jsonl` (allow / review / block), with the misses;
- planner coverage on the DreamBank reports: every sentence of every diary in exactly one
  scene, in order.

Usage: ``python -m bench.eval [--data data] [--segments 4] [--json out.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from agent.schemas import DreamPlan
from agent.text import split_sentences
from agent.train.data import read_jsonl
from agent.train.evaluate import balanced_accuracy as balanced_accuracy  # re-exported for tests
from agent.train.evaluate import f1_per_class
from dreamreel.analyze import DiaryAnalyzer
from dreamreel.settings import load_settings

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data"  # the repository's data/ (data/README.md)

# Published numbers on the same sources (different protocol; see the README's notes).
ANCHORS = {
    "emotion_en": "BERT-base fine-tuned, Ekman, full test set, multi-label: macro-F1 0.615 (monologg/GoEmotions-pytorch)",
    "toxic_en": "Davidson et al. 2017 logistic regression, 3 classes: weighted F1 0.90",
}


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Macro-averaged F1 over every label seen in gold or predictions (scikit-learn's default)."""
    scores = f1_per_class(gold, pred, sorted(set(gold) | set(pred)))
    return sum(scores.values()) / len(scores) if scores else 0.0


# The offline model before issue 9: the hashed head plus the dream lexicon at these weights.
BEFORE_ISSUE_9_LEXICON = {"en": 0.75, "ko": 2.25}
KOTE_RELIABLE = ("anger", "joy", "neutral", "sadness")  # the KOTE classes whose mapping is reliable


def emotion_scores(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, Any]:
    """n, macro-F1 (labels seen), macro-F1 over KOTE_RELIABLE, accuracy."""
    answers = [p or "neutral" for p in pred]
    reliable = f1_per_class(gold, answers, KOTE_RELIABLE)
    return {
        "n": len(gold),
        "macro_f1": macro_f1(gold, answers),
        "macro_f1_reliable4": sum(reliable.values()) / len(reliable),
        "accuracy": sum(g == p for g, p in zip(gold, answers, strict=True)) / len(gold),
    }


def before_issue_9(analyzer: DiaryAnalyzer) -> DiaryAnalyzer | None:
    """The same analyzer with the emotion model as it was before issue 9, or None for other backends."""
    from agent.emotion import Mix, OfflineEmotionClassifier

    if not isinstance(analyzer.emotion, OfflineEmotionClassifier):
        return None
    mix = {lang: Mix(lexicon=w) for lang, w in BEFORE_ISSUE_9_LEXICON.items()}
    return dataclasses.replace(analyzer, emotion=OfflineEmotionClassifier(analyzer.emotion.model, None, mix))


def covers(text: str, plan: DreamPlan) -> bool:
    """Every sentence of `text` lies inside exactly one scene; scenes are in order and disjoint."""
    spans = [(s.span.start, s.span.end) for s in plan.segments]
    if any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
        return False
    for sentence in split_sentences(text):
        inside = [a <= sentence.start and sentence.end <= b for a, b in spans]
        if sum(inside) != 1:
            return False
    return all(text[a:b] == s.text for (a, b), s in zip(spans, plan.segments, strict=True))


class Evaluation:
    """Runs each part over the data folder and collects a table of results."""

    def __init__(self, analyzer: DiaryAnalyzer, data: Path, review_threshold: float) -> None:
        self.analyzer = analyzer
        self.data = data
        self.review_threshold = review_threshold
        self.results: dict[str, Any] = {}
        self.seconds: list[float] = []

    def _analyze(self, texts: Iterable[str]) -> list[dict[str, Any]]:
        out = []
        for text in texts:
            started = time.perf_counter()
            out.append(self.analyzer.analyze(text))
            self.seconds.append(time.perf_counter() - started)
        return out

    def emotion(self) -> None:
        """Each emotion set scored with the configured model and, when that is the shipped offline
        model, with the model before issue 9 (its hashed head + lexicon) in the same run."""
        from agent.train.data import dream_scenes_eval, emotion_eval

        before = before_issue_9(self.analyzer)
        for name, examples in (emotion_eval(self.data) | dream_scenes_eval(self.data)).items():
            gold = [e.label for e in examples]
            row = emotion_scores(gold, [a["emotion"] for a in self._analyze(e.text for e in examples)])
            if before is not None:
                row["before"] = emotion_scores(gold, [before.analyze(e.text)["emotion"] for e in examples])
            self.results[name] = row

    def toxicity(self) -> None:
        from agent.train.data import toxicity_eval

        classifier = getattr(self.analyzer.safety, "toxicity", None)
        for name, examples in toxicity_eval(self.data).items():
            gold = [e.label == "toxic" for e in examples]
            answers = self._analyze(e.text for e in examples)
            flagged = [bool(a["verdict"]) and a["verdict"]["decision"] != "allow" for a in answers]
            row: dict[str, Any] = {"n": len(gold), "verdict_balanced_accuracy": balanced_accuracy(gold, flagged)}
            if classifier is not None:
                scores = classifier.score([e.text for e in examples])
                row["classifier"] = classifier.name
                row["classifier_balanced_accuracy"] = balanced_accuracy(
                    gold, [s >= self.review_threshold for s in scores]
                )
            self.results[name] = row

    def decisions(self) -> None:
        path = self.data / "dream_cases.jsonl"
        if not path.exists():
            return
        cases = list(read_jsonl(path))
        answers = self._analyze(c["text"] for c in cases)
        got = [a["verdict"]["decision"] if a["verdict"] else "error" for a in answers]
        misses = [
            {"id": c["id"], "expect": c["expect"], "got": g} for c, g in zip(cases, got, strict=True) if g != c["expect"]
        ]
        self.results["dream_cases"] = {"n": len(cases), "right": len(cases) - len(misses), "misses": misses}

    def policy(self) -> None:
        """The policy sets of `data/policy/` (`bench.policy_eval`)."""
        from bench import policy_eval

        segments = self.analyzer.segments
        self.results["disguises"] = policy_eval.disguises(self._analyze, self.analyzer.planner, segments)
        self.results["paraphrases"] = policy_eval.paraphrases(self._analyze)
        self.results["padded_paraphrases"] = policy_eval.padded_paraphrases(
            self._analyze, self.results["paraphrases"]["decisions"]
        )
        self.results["benign"] = policy_eval.benign(self._analyze, self.data / "dreams_en.jsonl")
        self.results["hate"] = policy_eval.hate(self._analyze, self.data)

    def coverage(self, segments: int) -> None:
        path = self.data / "dreams_en.jsonl"
        if not path.exists():
            return
        covered = fallbacks = 0
        diaries = list(read_jsonl(path))
        started = time.perf_counter()
        for row in diaries:
            plan = self.analyzer.planner.plan(row["text"], segments=segments)
            covered += covers(row["text"], plan)
            fallbacks += "llm failed" in plan.planner
        self.results["planner_coverage"] = {
            "n": len(diaries),
            "covered": covered,
            "planner": self.analyzer.planner.name,
            "segments": segments,
            "llm_fallbacks": fallbacks,
            "seconds_per_diary": (time.perf_counter() - started) / max(1, len(diaries)),
        }


def print_table(results: dict[str, Any], out: Any = sys.stdout) -> None:
    """The results as the Markdown table the README shows."""
    w = out.write
    w("| measure | data | n | result | published anchor |\n|---|---|---|---|---|\n")
    def then(r: dict[str, Any], key: str, digits: int = 3) -> str:
        return f" (before {r['before'][key]:.{digits}f})" if "before" in r else ""

    for name, label in (("emotion_en", "GoEmotions Ekman test (en)"), ("narratives_ko", "KOTE -> 7 emotions (ko)")):
        if name in results:
            r = results[name]
            w(
                f"| emotion macro-F1 | {label} | {r['n']} | {r['macro_f1']:.3f}{then(r, 'macro_f1')} "
                f"| {ANCHORS.get(name, '-')} |\n"
            )
    if "narratives_ko" in results:
        r = results["narratives_ko"]
        w(
            f"| emotion macro-F1 over anger/joy/neutral/sadness | KOTE -> 7 emotions (ko) | {r['n']} "
            f"| {r['macro_f1_reliable4']:.3f}{then(r, 'macro_f1_reliable4')} | - |\n"
        )
    for name, label in (("dream_scenes_en", "dream scenes, fixed eval part (en)"), ("dream_scenes_ko", "dream scenes, fixed eval part (ko)")):
        if name in results:
            r = results[name]
            w(f"| emotion accuracy | {label} | {r['n']} | {r['accuracy']:.2f}{then(r, 'accuracy', 2)} | - |\n")
    for name, label in (("toxic_en", "Davidson tweets + Jigsaw (en)"), ("toxic_ko", "Korean hate speech (ko)")):
        if name in results:
            r = results[name]
            if "classifier_balanced_accuracy" in r:
                w(
                    f"| toxicity balanced acc., classifier `{r['classifier']}` | {label} | {r['n']} "
                    f"| {r['classifier_balanced_accuracy']:.3f} | {ANCHORS.get(name, '-')} |\n"
                )
            w(
                f"| toxicity balanced acc., verdict != allow | {label} | {r['n']} "
                f"| {r['verdict_balanced_accuracy']:.3f} | - |\n"
            )
    if "dream_cases" in results:
        r = results["dream_cases"]
        w(f"| decisions right | dream_cases.jsonl | {r['n']} | {r['right']}/{r['n']} | - |\n")
    from bench.policy_eval import print_policy_table

    print_policy_table(results, w)
    if "planner_coverage" in results:
        r = results["planner_coverage"]
        w(
            f"| planner coverage ({r['planner']}, {r['segments']} scenes) | DreamBank reports (en) | {r['n']} "
            f"| {r['covered']}/{r['n']} | - |\n"
        )
    misses = results.get("dream_cases", {}).get("misses", [])
    if misses:
        w("\nmisses on dream_cases: " + ", ".join(f"{m['id']} {m['expect']}->{m['got']}" for m in misses) + "\n")
    for name in ("disguises", "paraphrases"):
        misses = results.get(name, {}).get("misses", [])
        if misses:
            w(f"\nmisses on {name}: " + ", ".join(f"{m['id']} {m.get('expect', 'caught')}->{m['got']}" for m in misses) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the data folder (default: the repository's data/)")
    parser.add_argument("--segments", type=int, default=4, help="scenes per DreamBank report (coverage)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--only", choices=["emotion", "toxicity", "decisions", "policy", "coverage"], action="append",
        help="run only these parts (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"eval: no data folder at {args.data}", file=sys.stderr)
        return 2

    settings = load_settings()
    started = time.perf_counter()
    evaluation = Evaluation(DiaryAnalyzer.from_settings(settings), args.data, settings.safety.review_threshold)
    parts = set(args.only or ["emotion", "toxicity", "decisions", "policy", "coverage"])
    if "emotion" in parts:
        evaluation.emotion()
    if "toxicity" in parts:
        evaluation.toxicity()
    if "decisions" in parts:
        evaluation.decisions()
    if "policy" in parts:
        evaluation.policy()
    if "coverage" in parts:
        evaluation.coverage(args.segments)
    seconds = evaluation.seconds
    evaluation.results["timing"] = {
        "texts": len(seconds),
        "ms_per_text": 1000 * sum(seconds) / max(1, len(seconds)),
        "total_seconds": time.perf_counter() - started,
    }
    print_table(evaluation.results)
    t = evaluation.results["timing"]
    print(f"\n{t['texts']} texts analysed, {t['ms_per_text']:.0f} ms each, {t['total_seconds']:.1f} s in all")
    if args.json:
        args.json.write_text(json.dumps(evaluation.results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
