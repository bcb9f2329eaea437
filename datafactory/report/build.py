"""`datafactory report`: one self-contained HTML file over stage outputs (charts inline, samples embedded).

Why one file: it is mailed, attached to an issue, opened on a laptop without the data or the network. Counts are
the manifests' own; the sample browser carries a bounded random sample of rows per reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from datafactory.io.remote import shown
from datafactory.io.writer import atomic_write_bytes
from datafactory.report import charts
from datafactory.report.collect import StageView, collect

TEMPLATE = Path(__file__).with_name("template.html.jinja")


def _metadata(view: StageView) -> list[tuple[str, str]]:
    manifest, arguments = view.manifest, view.manifest.get("arguments") or {}
    rows = [("folder", shown(view.path))]  # a folder mirrored from a store by its URL
    for key in ("model", "engine", "verifier", "rules", "language", "on", "threshold", "ratio", "total", "seed"):
        if arguments.get(key) not in (None, "", []):
            rows.append((key, str(arguments[key])))
    if view.stage == "generate":
        sampling = {k: arguments.get(k) for k in ("n", "temperature", "top_p", "max_tokens") if k in arguments}
        rows.append(("sampling", json.dumps(sampling)))
    for key in ("started", "finished", "datafactory_version"):  # what OutputDir.finish records
        if manifest.get(key):
            rows.append((key.replace("_", " "), str(manifest[key])))
    return rows


def _charts(view: StageView) -> list[dict]:
    out = [{"name": "funnel", "svg": charts.funnel_chart(view.funnel, f"{view.stage}: {view.label}")}]
    if view.pass_rates:
        out.append({"name": "pass_rates", "svg": charts.pass_rate_chart(view.pass_rates, "prompts by pass rate")})
    if any(view.lengths.values()):
        title = "completion tokens by category" if view.stage == "mix" else "completion tokens"
        out.append({"name": "lengths", "svg": charts.length_chart(view.lengths, title)})
    if view.per_source:
        out.append({"name": "sources", "svg": charts.source_chart(view.per_source, "rows taken per source")})
    return out


def _context(view: StageView) -> dict:
    reasons = sorted(view.reasons.items(), key=lambda item: -item[1])
    return {
        "stage": view.stage,
        "label": view.label,
        "metadata": _metadata(view),
        "funnel": view.funnel,
        "charts": _charts(view),
        "reasons": reasons,
        "rows_in": view.funnel[0][1] if view.funnel else 0,
        "per_source": list(view.per_source.items()),
        "accounting": [(title, list(rows.items())) for title, rows in view.accounting.items()],
        "suspect_golds": view.suspect_golds,
    }


def _groups(views: list[StageView]) -> list[dict]:
    groups = []
    for view in views:
        order = sorted(view.samples, key=lambda g: (g not in ("kept", "pass"), -view.group_counts.get(g, 0), g))
        for name in order:
            rows = view.samples[name]
            groups.append(
                {"stage": view.stage, "label": view.label, "name": name,
                 "total": view.group_counts.get(name, len(rows)), "rows": rows}
            )  # fmt: skip
    return groups


def build_report(paths: list[str], out: str, per_group: int = 40, seed: int = 0, title: str | None = None) -> Path:
    """Write the report to `out` (atomically) and return its path."""
    import jinja2

    views = collect(paths, per_group=per_group, seed=seed)
    environment = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    samples_json = json.dumps(_groups(views), ensure_ascii=True, default=str)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):  # nothing a model wrote
        samples_json = samples_json.replace(char, escaped)  # can close the script element or open a comment
    stages = ", ".join(f"{v.stage} {v.label}" for v in views)
    html = template.render(
        title=title or "datafactory report",
        subtitle=f"{len(views)} stage output(s): {stages}",
        views=[_context(v) for v in views],
        per_group=per_group,
        samples_json=samples_json,
    )
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, html.encode("utf-8"))
    return target
