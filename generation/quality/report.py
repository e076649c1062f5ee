"""The evaluation report: `report.json` (every number) and `report.html` (numbers and pictures).

The HTML page is one self-contained file: per set, a table of prompts with a thumbnail strip
of each clip (frames sampled from start to end), its scores (under-threshold cells marked)
and pass/fail; a histogram per metric with its threshold; with two sets, a per-prompt comparison.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from generation.quality.evaluate import METRICS, EvalClip, EvalSet

HISTOGRAM_BINS = 10
THRESHOLD_OF = {
    "sharpness": "min_sharpness",
    "temporal": "min_temporal",
    "color": "min_color",
    "clip_score": "min_clip_score",
}

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; vertical-align: middle; }
td.prompt { text-align: left; max-width: 24em; }
td.low { background: #fdd; }
.pass { color: #176317; font-weight: bold; } .fail { color: #a11; font-weight: bold; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { text-align: center; }
img.strip { height: 64px; image-rendering: auto; }
"""


def write_report(report: dict[str, Any], sets: Sequence[EvalSet], out_dir: Path) -> tuple[Path, Path]:
    """Write `out_dir/report.json` and `out_dir/report.html`; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    html_path.write_text(render_html(report, sets), encoding="utf-8")
    return json_path, html_path


def render_html(report: dict[str, Any], sets: Sequence[EvalSet]) -> str:
    thresholds: dict[str, float] = report.get("thresholds", {})
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>DreamReel quality report: {escape(str(report.get('preset')))}</title>",
        f"<style>{_STYLE}</style>",
        f"<h1>Quality report: preset {escape(str(report.get('preset')))}</h1>",
        _about(report),
    ]
    for eval_set in sets:
        parts.append(f"<h2>{escape(eval_set.name)}</h2>")
        parts.append(_summary_table(eval_set))
        parts.append('<div class="plots">')
        for metric in METRICS:
            values = [getattr(c.quality, metric) for c in eval_set.clips]
            present = [float(v) for v in values if v is not None]
            if present:
                parts.append(_histogram(metric, present, thresholds.get(THRESHOLD_OF.get(metric, ""))))
        parts.append("</div>")
        parts.append(_clip_table(eval_set.clips, thresholds))
    if len(sets) == 2:
        parts.append(_comparison(sets[0], sets[1]))
    parts.append("</html>")
    return "\n".join(parts)


def _about(report: dict[str, Any]) -> str:
    models = report.get("models", {})
    items = [
        f"prompts: {escape(str(report.get('prompts')))} ({report.get('count')} rendered, seeds from {report.get('seed')})",
        f"thresholds: {escape(json.dumps(report.get('thresholds', {})))}",
        f"CLIP model: {escape(str(models.get('clip') or 'none (no CLIP score)'))}",
        f"FVD features: {escape(str(models.get('fvd_features') or 'none (no reference set)'))}",
        f"created: {escape(str(report.get('created')))}",
    ]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _summary_table(eval_set: EvalSet) -> str:
    s = eval_set.summary()
    cells = [
        ("clips", s["clips"]),
        ("passed", s["passed"]),
        *((f"mean {m}", s["mean"][m]) for m in METRICS),
        ("CLIPSIM", s["clipsim"]),
        ("FVD", s["fvd"]),
        ("render s", s["render_seconds"]),
        ("score s", s["score_seconds"]),
    ]
    head = "".join(f"<th>{escape(k)}</th>" for k, _ in cells)
    row = "".join(f"<td>{_fmt(v)}</td>" for _, v in cells)
    return f"<table><tr>{head}</tr><tr>{row}</tr></table>"


def _clip_table(clips: Sequence[EvalClip], thresholds: dict[str, float]) -> str:
    head = "<tr><th>#</th><th>prompt</th><th>frames</th>" + "".join(f"<th>{m}</th>" for m in METRICS)
    rows = [head + "<th>result</th></tr>"]
    for c in clips:
        q = c.quality.as_dict()
        cells = []
        for metric in METRICS:
            low = metric in c.failures
            cells.append(f'<td class="{"low" if low else ""}">{_fmt(q[metric])}</td>')
        verdict = (
            '<span class="pass">pass</span>'
            if not c.failures
            else ('<span class="fail">fail</span> ' + escape(", ".join(c.failures)))
        )
        rows.append(
            f"<tr><td>{c.index}</td><td class=prompt>{escape(c.prompt)}<br><small>seed {c.seed}</small></td>"
            f'<td><img class=strip alt="frames of clip {c.index}" src="{c.strip}"></td>'
            + "".join(cells)
            + f"<td>{verdict}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _histogram(metric: str, values: list[float], threshold: float | None) -> str:
    """An inline SVG histogram over [0, 1] (CLIP score over [-1, 1]) with the threshold as a red line."""
    low, high = (-1.0, 1.0) if metric == "clip_score" else (0.0, 1.0)
    counts, _ = np.histogram(np.clip(values, low, high), bins=HISTOGRAM_BINS, range=(low, high))
    width, height, pad = 220, 110, 18
    bar = (width - 2 * pad) / HISTOGRAM_BINS
    top = max(int(counts.max()), 1)
    shapes = []
    for i, count in enumerate(counts):
        h = (height - 2 * pad) * count / top
        x, y = pad + i * bar, height - pad - h
        shapes.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" fill="#5b7db1"/>'
        )
    if threshold is not None and low <= threshold <= high:
        tx = pad + (threshold - low) / (high - low) * (width - 2 * pad)
        shapes.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{pad / 2}" y2="{height - pad}" stroke="#c00"/>')
    axis = (
        f'<line x1="{pad}" x2="{width - pad}" y1="{height - pad}" y2="{height - pad}" stroke="#444"/>'
        f'<text x="{pad}" y="{height - 4}" font-size="10">{low:g}</text>'
        f'<text x="{width - pad}" y="{height - 4}" font-size="10" text-anchor="end">{high:g}</text>'
        f'<text x="{pad}" y="12" font-size="10">max {top}</text>'
    )
    svg = f'<svg width="{width}" height="{height}" role="img" aria-label="{metric} histogram">{"".join(shapes)}{axis}</svg>'
    return f"<figure>{svg}<figcaption>{escape(metric)} (n={len(values)})</figcaption></figure>"


def _comparison(base: EvalSet, other: EvalSet) -> str:
    rows = [
        f"<tr><th>#</th><th>prompt</th><th>{escape(base.name)}</th><th>{escape(other.name)}</th>"
        "<th>overall</th><th>clip score</th></tr>"
    ]
    for a, b in zip(base.clips, other.clips, strict=False):
        d_overall = b.quality.overall - a.quality.overall
        d_clip = (
            b.quality.clip_score - a.quality.clip_score
            if a.quality.clip_score is not None and b.quality.clip_score is not None
            else None
        )
        rows.append(
            f"<tr><td>{a.index}</td><td class=prompt>{escape(a.prompt)}</td>"
            f'<td><img class=strip alt="" src="{a.strip}"></td><td><img class=strip alt="" src="{b.strip}"></td>'
            f"<td>{_fmt(d_overall, signed=True)}</td><td>{_fmt(d_clip, signed=True)}</td></tr>"
        )
    return (
        f"<h2>{escape(other.name)} minus {escape(base.name)}, per prompt</h2><table>{''.join(rows)}</table>"
    )


def _fmt(value: Any, *, signed: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:+.3f}" if signed else f"{value:.3f}"
    return escape(str(value))
