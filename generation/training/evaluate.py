"""`lora eval`: does a trained LoRA work on its own emotion's scenes, and leave the others alone?

The same prompts and seeds render twice through the service's own backend and `[loras]`
registry: once with the adapter switched off, once with it on. For every prompt:
  shift    mean absolute pixel difference between the two renders (0..1 scale): how much the
           LoRA changes the picture;
  quality  the weight-free clip scores of generation/quality (sharpness, temporal consistency,
           colour, overall) of both renders.
Aggregated over the emotion's own prompts and over every other emotion's prompts:
  own_shift / other_shift   the style lands on its own scenes (own_shift high) and leaks into
                            unrelated ones less (selectivity = own / other above 1);
  quality_held              the LoRA's renders of its own prompts score within QUALITY_TOLERANCE
                            of the base model's on `overall`.
The report folder holds eval.json and report.html, whose rows show each prompt's frames (base
above, LoRA below, the quality report's thumbnail strips), so every number comes with the
pictures it was measured on.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generation.base import ClipSpec
from generation.diffusers_backend.backend import DiffusersBackend
from generation.diffusers_backend.loras import LoraEntry, LoraRegistry
from generation.diffusers_backend.presets import Preset
from generation.diffusers_backend.video import to_uint8
from generation.quality import Frames, score_frames
from generation.quality.frames import thumbnail_strip
from generation.training.base import TrainingError, check_trainable
from generation.training.prompts import EMOTIONS, check_emotion, prompts_for

logger = logging.getLogger(__name__)

QUALITY_TOLERANCE = 0.05  # an `overall` drop up to this still counts as "quality held"
BASE = "<base>"  # the emotion a spec carries to render without the LoRA (not in the registry)


@dataclass(frozen=True)
class EvalConfig:
    preset: Preset
    emotion: str
    lora: Path
    out: Path
    weight: float = 1.0
    prompts_per_emotion: int = 2
    seed: int = 0


@dataclass(frozen=True)
class PromptResult:
    emotion: str
    prompt: str
    seed: int
    shift: float
    base: dict[str, Any]
    lora: dict[str, Any]
    base_strip: str  # PNG data URIs of sampled frames
    lora_strip: str


@dataclass
class EvalReport:
    emotion: str
    lora: Path
    out: Path
    rows: list[PromptResult] = field(default_factory=list)

    def _group(self, own: bool) -> list[PromptResult]:
        return [r for r in self.rows if (r.emotion == self.emotion) == own]

    @staticmethod
    def _mean(rows: list[PromptResult], key: str, which: str = "") -> float:
        values = [r.shift if key == "shift" else getattr(r, which)[key] for r in rows]
        return float(np.mean(values)) if values else 0.0

    def to_json(self) -> dict[str, Any]:
        own, other = self._group(True), self._group(False)
        own_shift, other_shift = self._mean(own, "shift"), self._mean(other, "shift")
        base_q, lora_q = self._mean(own, "overall", "base"), self._mean(own, "overall", "lora")
        metrics = ("sharpness", "temporal", "color", "overall")
        return {
            "emotion": self.emotion,
            "lora": str(self.lora),
            "own_shift": own_shift,
            "other_shift": other_shift,
            "selectivity": own_shift / other_shift if other_shift > 0 else None,
            "quality": {
                "base": {m: self._mean(own, m, "base") for m in metrics},
                "lora": {m: self._mean(own, m, "lora") for m in metrics},
                "other_base_overall": self._mean(other, "overall", "base"),
                "other_lora_overall": self._mean(other, "overall", "lora"),
                "drop": base_q - lora_q,
                "held": lora_q >= base_q - QUALITY_TOLERANCE,
            },
            "prompts": [
                {
                    "emotion": r.emotion,
                    "prompt": r.prompt,
                    "seed": r.seed,
                    "shift": r.shift,
                    "base_overall": r.base["overall"],
                    "lora_overall": r.lora["overall"],
                }
                for r in self.rows
            ],
            "report": str(self.out / "report.html"),
        }

    def summary(self) -> str:
        data = self.to_json()
        q = data["quality"]
        sel = f"{data['selectivity']:.2f}" if data["selectivity"] is not None else "n/a"
        return (
            f"LoRA {self.lora} on {self.emotion}:\n"
            f"  style shift, own prompts   {data['own_shift']:.4f}\n"
            f"  style shift, other prompts {data['other_shift']:.4f}  (own / other = {sel})\n"
            f"  quality (overall) base {q['base']['overall']:.3f} -> LoRA {q['lora']['overall']:.3f}: "
            f"{'held' if q['held'] else 'DROPPED'}\n"
            f"  report: {data['report']}"
        )


def evaluate_lora(config: EvalConfig) -> EvalReport:
    """Render own- and other-emotion prompts with and without the LoRA; write the report."""
    check_trainable(config.preset.family)
    check_emotion(config.emotion)
    if not config.lora.exists():
        raise TrainingError(f"no LoRA at {config.lora}")
    entry = LoraEntry(emotion=config.emotion, path=str(config.lora), weight=config.weight)
    backend = DiffusersBackend(config.preset, LoraRegistry(config.preset.family, {config.emotion: entry}))
    backend.load()  # loads the adapter exactly as a worker does (LoraError when it does not fit)
    config.out.mkdir(parents=True, exist_ok=True)
    report = EvalReport(config.emotion, config.lora, config.out)
    own_first = [config.emotion, *(e for e in EMOTIONS if e != config.emotion)]
    for emotion in own_first:
        for k, prompt in enumerate(prompts_for(emotion, config.prompts_per_emotion)):
            seed = config.seed + k
            base = _render(backend, prompt, BASE, seed)
            styled = _render(backend, prompt, config.emotion, seed)
            report.rows.append(
                PromptResult(
                    emotion=emotion,
                    prompt=prompt,
                    seed=seed,
                    shift=float(np.abs(styled.astype(np.float32) - base.astype(np.float32)).mean() / 255.0),
                    base=score_frames(Frames(base, float(config.preset.fps))).as_dict(),
                    lora=score_frames(Frames(styled, float(config.preset.fps))).as_dict(),
                    base_strip=thumbnail_strip(base),
                    lora_strip=thumbnail_strip(styled),
                )
            )
    (config.out / "eval.json").write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    (config.out / "report.html").write_text(render_html(report), encoding="utf-8")
    return report


def _render(backend: DiffusersBackend, prompt: str, emotion: str, seed: int) -> np.ndarray:
    p = backend.preset
    spec = ClipSpec(
        index=0, prompt=prompt, caption="", emotion=emotion, seed=seed,
        width=p.width, height=p.height, num_frames=p.num_frames, fps=p.fps, preset=p.name,
    )  # fmt: skip
    return to_uint8(np.asarray(backend.render_frames(spec), dtype=np.float32))


def render_html(report: EvalReport) -> str:
    data = report.to_json()
    q = data["quality"]
    sel = f"{data['selectivity']:.2f}" if data["selectivity"] is not None else "n/a"
    rows = "\n".join(
        f"<tr class='{'own' if r.emotion == report.emotion else 'other'}'><td>{html.escape(r.emotion)}</td>"
        f"<td>{html.escape(r.prompt)}<br><small>seed {r.seed}</small></td><td>{r.shift:.4f}</td>"
        f"<td>{r.base['overall']:.3f} &rarr; {r.lora['overall']:.3f}</td>"
        f"<td><img src='{r.base_strip}' alt='base' title='base'><img src='{r.lora_strip}' alt='with the LoRA' "
        "title='with the LoRA'></td></tr>"
        for r in report.rows
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LoRA check: {html.escape(report.emotion)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} td{{padding:4px 8px;vertical-align:top}}
tr.own{{background:#fff4d6}} img{{image-rendering:pixelated;max-width:70vw;display:block;margin-bottom:2px}}</style></head><body>
<h1>LoRA check: {html.escape(report.emotion)}</h1>
<p>{html.escape(str(report.lora))}</p>
<table>
<tr><td>style shift on own prompts</td><td>{data["own_shift"]:.4f}</td></tr>
<tr><td>style shift on other emotions' prompts</td><td>{data["other_shift"]:.4f} (own / other {sel})</td></tr>
<tr><td>quality (overall) on own prompts, base &rarr; LoRA</td>
<td>{q["base"]["overall"]:.3f} &rarr; {q["lora"]["overall"]:.3f}: {"held" if q["held"] else "dropped"}
(tolerance {QUALITY_TOLERANCE})</td></tr>
</table>
<p>Each strip: the base model above, the same prompt and seed with the LoRA below.
Shift is the mean absolute pixel difference (0..1).</p>
<table><tr><th>emotion</th><th>prompt</th><th>shift</th><th>quality</th><th>frames</th></tr>
{rows}
</table></body></html>
"""
