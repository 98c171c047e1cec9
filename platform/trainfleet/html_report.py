"""`trainfleet report RUN_DIR --html`: one self-contained HTML page a person can open or mail.

It holds what the PNG report draws (embedded as data URIs, so the file needs nothing beside it),
the run's summary and final metrics, a sweep's trials with their sampled configs, and any GIF
`trainfleet eval --gif` left in the run directory. Like the PNG report it reads only the run
directory's JSON and Parquet files; every value from them is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from trainfleet import results
from trainfleet.report import write_report

REPORT_FILE = "report.html"
_SUMMARY_FIELDS = ("name", "algorithm", "model", "backend", "executor", "status", "stop_reason",
                   "best_trial", "wall_s", "train_s")
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9rem; }
td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f4f4f4; } tr.best td { background: #e8f6e8; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; }
"""


def write_html_report(run_dir: str | Path) -> Path:
    """Draw the report's figures, then write RUN_DIR/report.html around them; returns its path."""
    run_dir = Path(run_dir)
    figures = write_report(run_dir)
    summary = results.read_summary(run_dir) if (run_dir / "summary.json").exists() else {}
    title = str(summary.get("name") or run_dir.name)
    parts = [f"<h1>{_e(title)}</h1>", _summary_section(summary)]
    parts += [f"<h2>{_e(p.stem.replace('_', ' '))}</h2>{_image(p, 'image/png')}" for p in figures]
    if (run_dir / "trials.parquet").exists():
        parts.append(_trials_section(run_dir, summary))
    gifs = sorted(g for g in run_dir.glob("*.gif") if g.is_file() and not g.is_symlink())  # never a file elsewhere
    if gifs:
        parts.append("<h2>evaluation</h2>" + "".join(_image(g, "image/gif") for g in gifs))
    page = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(parts) + "\n</body></html>\n")
    path = run_dir / REPORT_FILE
    results.write_text(path, page)
    return path


def _summary_section(summary: dict[str, Any]) -> str:
    rows = [(k, summary[k]) for k in _SUMMARY_FIELDS if summary.get(k) is not None]
    final = summary.get("final_metrics") or {}
    out = "<h2>summary</h2>" + _table(["field", "value"], rows)
    if isinstance(final, dict) and final:
        out += "<h2>final metrics</h2>" + _table(["metric", "value"], sorted(final.items()))
    return out


def _trials_section(run_dir: Path, summary: dict[str, Any]) -> str:
    rows = results.read_parquet(run_dir / "trials.parquet").to_pylist()
    columns = sorted({k for r in rows for k in r})
    columns.sort(key=lambda c: (c != results.TRIAL_ID, not c.startswith("config."), c))
    best = summary.get("best_trial")
    body = "".join(
        ('<tr class="best">' if r.get(results.TRIAL_ID) == best else "<tr>")
        + "".join(f"<td>{_e(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows)
    head = "".join(f"<th>{_e(c.removeprefix('config.'))}</th>" for c in columns)
    return f"<h2>trials ({len(rows)}; best highlighted)</h2><table><tr>{head}</tr>{body}</table>"


def _table(head: list[str], rows: list[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{_e(_cell(v))}</td></tr>" for k, v in rows)
    return "<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + f"</tr>{cells}</table>"


def _image(path: Path, mime: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(path.name)}" src="data:{mime};base64,{data}">'


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
