"""``report.html``: one self-contained page (inline CSS, plots as base64 PNG, no URLs)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from lab import fmt
from lab.report import autoscaling
from lab.report.capacity import capacity_section
from lab.report.lesson import (
    KNEE_HEADER,
    PREDICTION_HEADER,
    arrivals_note,
    knee_rows,
    knee_text,
    phase_lessons,
    prediction_rows,
)
from lab.report.plots import Plot
from lab.report.summary import (
    AUDIT_HEADER,
    CHECK_HEADER,
    PHASE_HEADER,
    audit_rows,
    check_rows,
    headline,
    opening,
    phase_rows,
    saturation_text,
)
from lab.run.reader import RunRecord

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1180px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #666; } .concept { background: #f6f8fa; padding: .8em 1em; border-radius: 6px; }
.badge { display: inline-block; padding: .15em .7em; border-radius: 4px; color: #fff;
         font-weight: 600; vertical-align: middle; font-size: .6em; }
.PASSED { background: #2e7d32; } .FAILED { background: #c62828; } .ABORTED { background: #ef6c00; }
table { border-collapse: collapse; margin: .5em 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } tr.fail td { background: #fdecea; }
tr.pass td:nth-child(2) { color: #2e7d32; }
tr.fail td:nth-child(2) { color: #c62828; font-weight: 600; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
dt { font-weight: 600; } dd { margin: 0 0 .6em 1em; } .note { color: #555; }
.warn { background: #fff4e5; padding: .5em 1em; border-radius: 6px; }
"""


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{escape(classes[i])}"' if i < len(classes) else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    if not body:
        return '<p class="note">(none)</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(run: RunRecord, plots: Sequence[Plot]) -> str:
    v = run.verdict
    status = fmt.verdict(v.passed, v.aborted)
    meta = (
        f"scenario <code>{escape(v.scenario)}</code> · profile <code>{escape(v.profile)}</code>"
        f" · runtime <code>{escape(v.runtime)}</code> · {escape(fmt.when(v.started))}"
        f" · {escape(fmt.duration(run.duration))} · SLO p95 &lt; {escape(fmt.ms(v.slo_seconds))}"
        f" · run <code>{escape(run.name)}</code>"
    )
    parts = [
        f"<h1>{escape(v.title)} <span class='badge {status}'>{status}</span></h1>",
        f"<p class='meta'>{meta}</p>",
        f"<p class='concept'>{escape(v.concept)}</p>",
        f"<p><strong>{escape(headline(run))}</strong></p>",
        *_opening(run),
        *([f"<p class='warn'>{escape(note)}</p>"] if (note := arrivals_note(run)) else []),
        "<h2>Predicted vs measured</h2>",
        table(
            PREDICTION_HEADER,
            prediction_rows(run),
            ["pass" if p.passed else "fail" for ph in v.phases for p in ph.predictions],
        ),
        "<h2>Checks</h2>",
        table(CHECK_HEADER, check_rows(run), ["pass" if c.passed else "fail" for c in v.checks]),
        "<h2>Phases</h2>",
        table(PHASE_HEADER, phase_rows(run)),
        "<p class='note'>Server p95 is interpolated from the API's latency histogram; client "
        "percentiles are exact (HDR) over the same window and, in an open loop, count from "
        "each request's intended send time.</p>",
        *_lessons(run),
        "<h2>Knee</h2>",
        f"<p>{escape(knee_text(run))}</p>",
    ]
    if rows := knee_rows(run):
        parts.append(table(KNEE_HEADER, rows))
    if (note := saturation_text(run)) is not None:
        parts += ["<h2>Saturation</h2>", f"<p>{escape(note)}</p>"]
    if (cost := autoscaling.cost_text(run)) is not None:
        parts += ["<h2>Autoscaler</h2>", f"<p>{escape(cost)}</p>"]
        if rows := autoscaling.scale_up_rows(run):
            parts.append(table(autoscaling.SCALE_UP_HEADER, rows))
    if (section := capacity_section(run)) is not None:
        parts += section.html(run.dir / "plots")
    if (rows := audit_rows(run)) and run.verdict.audit is not None:
        parts += ["<h2>Integrity audit</h2>", table(AUDIT_HEADER, rows)]
        parts.append(f"<p>{escape(run.verdict.audit.detail)}</p>")
    parts.append("<h2>Over time</h2>")
    parts.append(
        "<p class='note'>Shaded bands are the phases; dashed lines are scale and fault "
        "events. Server series come from Prometheus recording rules, client series from "
        "Locust.</p>"
    )
    for plot in plots:
        caption = (
            "" if plot.has_data else "<figcaption class='note'>no data in this run</figcaption>"
        )
        img = f"<img alt='{escape(plot.title)}' src='{data_uri(plot.path)}'>"
        parts.append(f"<figure>{img}{caption}</figure>")
    parts += _load_generator(run)
    parts += _timeline(run)
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(v.title)} — {status}</title><style>{CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _opening(run: RunRecord) -> list[str]:
    items = [
        f"<li><strong>{escape(label)}</strong>: {_code(text)}</li>" for label, text in opening(run)
    ]
    return [f"<ul class='opening'>{''.join(items)}</ul>"] if items else []


def _code(text: str) -> str:
    """Escape ``text`` and turn its `backticks` into <code>."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _lessons(run: RunRecord) -> list[str]:
    """Each phase as a lesson (narrative, concept, prediction, watch, miss)."""
    lessons = dict(phase_lessons(run))
    parts = ["<dl>"]
    for p in run.verdict.phases:
        items = lessons.get(p.name) or [("What happens", p.narrative)]
        inner = "".join(f"<br><em>{escape(k)}</em>: {escape(t)}" for k, t in items)
        parts.append(f"<dt>{escape(p.name)}</dt><dd>{inner.removeprefix('<br>')}</dd>")
    return [*parts, "</dl>"]


def _load_generator(run: RunRecord) -> list[str]:
    locust = run.locust
    if not locust.requests and not locust.failures:
        return []
    rows = [
        (
            r.method,
            r.name,
            f"{r.requests:,}",
            f"{r.failures:,}",
            fmt.rps(r.rps),
            fmt.ms(r.median),
            fmt.ms(r.p95),
            fmt.ms(r.p99),
        )
        for r in (*locust.per_name, *([locust.total] if locust.total else []))
    ]
    header = ("type", "name", "requests", "failures", "avg req/s", "median", "p95", "p99")
    parts = ["<h2>Load generator (Locust)</h2>", table(header, rows)]
    if locust.failures:
        failures = [(f.method, f.name, f.error, f"{f.occurrences:,}") for f in locust.failures]
        parts += ["<h3>Failures</h3>", table(("method", "name", "error", "count"), failures)]
    return parts


def _timeline(run: RunRecord) -> list[str]:
    if not run.events:
        return []
    rows = [
        (f"{run.since_start(e.t):+.1f} s", e.kind, e.message)
        for e in sorted(run.events, key=lambda e: e.t)
    ]
    return [
        "<h2>Timeline</h2>",
        f"<details><summary>{len(rows)} events (events.jsonl)</summary>",
        table(("t", "kind", "message"), rows),
        "</details>",
    ]
