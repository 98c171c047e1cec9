"""`trainfleet report RUN_DIR`: learning-curve PNGs (and, for a sweep, a comparison of trials);
`trainfleet report RUN_DIR RUN_DIR ...`: one PNG comparing the runs' learning curves (e.g. the same
algorithm through the native, RLlib and SB3 backends).

Reads only the run directory's Parquet files, so a report can be drawn anywhere pyarrow and
matplotlib are installed, long after the Ray cluster is gone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trainfleet import results
from trainfleet.errors import UserError


def _series(rows: list[dict[str, Any]], x: str, y: str) -> tuple[list[float], list[float]]:
    """(x, y) points of one metric, skipping iterations where it is missing or NaN."""
    pts = [(r[x], r[y]) for r in rows if r.get(x) is not None and r.get(y) is not None and not math.isnan(r[y])]
    return [p[0] for p in pts], [p[1] for p in pts]


def _by_trial(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.get(results.TRIAL_ID) or "", []).append(row)
    for trial_rows in out.values():
        trial_rows.sort(key=lambda r: r[results.ITERATION])
    return out


def _trial_labels(run_dir: Path, trial_ids: list[str]) -> dict[str, str]:
    """`trial_id  hparams.alpha=0.1 seed=2` for sweeps (the sampled config), else the id."""
    labels = {t: t for t in trial_ids}
    path = run_dir / "trials.parquet"
    if path.exists():
        for row in results.read_parquet(path).to_pylist():
            config = " ".join(f"{k.removeprefix('config.')}={_short(v)}" for k, v in row.items() if k.startswith("config."))
            labels[row[results.TRIAL_ID]] = f"{row[results.TRIAL_ID]} {config}".strip()
    return labels


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _plot_curves(ax, trials, labels, x: str, y: str) -> bool:
    drawn = False
    for tid, rows in trials.items():
        xs, ys = _series(rows, x, y)
        if xs:
            ax.plot(xs, ys, label=labels.get(tid, tid) if len(trials) > 1 else None, linewidth=1.5)
            drawn = True
    if x == results.ITERATION:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(alpha=0.3)
    if drawn and len(trials) > 1:
        ax.legend(fontsize=7, loc="best")
    return drawn


def write_report(run_dir: str | Path) -> list[Path]:
    """Write the PNGs into the run directory; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    if not (run_dir / "metrics.parquet").exists():
        raise UserError(f"{run_dir}: no metrics.parquet (not a run directory, or no iteration finished)")
    rows = results.read_metrics(run_dir).to_pylist()
    summary = results.read_summary(run_dir) if (run_dir / "summary.json").exists() else {}
    trials = _by_trial(rows)
    labels = _trial_labels(run_dir, list(trials))
    columns = {k for r in rows for k in r}
    title = summary.get("name") or run_dir.name
    written: list[Path] = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        path = run_dir / name
        with results.atomic_write(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        written.append(path)

    if results.EPISODE_RETURN_MEAN in columns:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        x = results.ENV_STEPS if results.ENV_STEPS in columns else results.ITERATION
        _plot_curves(axes[0], trials, labels, x, results.EPISODE_RETURN_MEAN)
        axes[0].set_title("training return (running mean)")
        axes[1].set_title("episode length (mean)")
        if not _plot_curves(axes[1], trials, labels, results.ITERATION, results.EPISODE_LEN_MEAN):
            _plot_curves(axes[1], trials, labels, results.ITERATION, results.ENV_STEPS_PER_S)
        fig.suptitle(f"{title}: learning curve")
        save(fig, "learning_curve.png")
    losses = sorted(c for c in columns if c.startswith("loss_") or c in (results.TRAIN_LOSS, results.VAL_LOSS))
    if losses:
        fig, axes = plt.subplots(1, len(losses), figsize=(4.2 * len(losses), 3.6), squeeze=False)
        for ax, name in zip(axes[0], losses):
            _plot_curves(ax, trials, labels, results.ITERATION, name)
            ax.set_title(name)
        fig.suptitle(f"{title}: losses")
        save(fig, "losses.png")
    if (run_dir / "trials.parquet").exists():
        save(_trial_comparison(plt, run_dir, summary), "trials.png")
    elif "val_bleu4" in columns:  # a captioning run: its sentences (and attention) on held-out inputs
        from trainfleet.dl.caption_figure import caption_figure

        save(caption_figure(plt, run_dir), "captions.png")
    elif "val_map_50" in columns or "val_mean_iou" in columns:  # detection or segmentation: truth vs prediction
        from trainfleet.dl.prediction_figure import prediction_figure

        save(prediction_figure(plt, run_dir), "predictions.png")
    if not written:
        raise UserError(f"{run_dir}: metrics.parquet has no curve to draw (columns: {', '.join(sorted(columns))})")
    return written


def _trial_comparison(plt, run_dir: Path, summary: dict[str, Any]):
    """Final value of the sweep's metric per trial, best first, labelled with the sampled config."""
    trial_rows = results.read_parquet(run_dir / "trials.parquet").to_pylist()
    metric = _sweep_metric(run_dir) or results.EPISODE_RETURN_MEAN
    mode = _sweep_mode(run_dir)
    scored = [(r, r.get(metric)) for r in trial_rows]
    scored = [(r, float("nan") if v is None else float(v)) for r, v in scored]
    scored.sort(key=lambda rv: (math.isnan(rv[1]), -rv[1] if mode == "max" else rv[1]))
    labels = _trial_labels(run_dir, [r[results.TRIAL_ID] for r, _ in scored])
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(scored) + 1.5))
    names = [labels[r[results.TRIAL_ID]] for r, _ in scored]
    values = [0.0 if math.isnan(v) else v for _, v in scored]
    best = summary.get("best_trial")
    colors = ["tab:green" if r[results.TRIAL_ID] == best else "tab:blue" for r, _ in scored]
    ax.barh(range(len(scored)), values, color=colors)
    ax.set_yticks(range(len(scored)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"final {metric} ({mode}; best in green)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{summary.get('name') or run_dir.name}: {len(scored)} trials")
    return fig


def _sweep_metric(run_dir: Path) -> str | None:
    return (_tune_section(run_dir) or {}).get("metric")


def _sweep_mode(run_dir: Path) -> str:
    return (_tune_section(run_dir) or {}).get("mode") or "max"


def _tune_section(run_dir: Path) -> dict[str, Any] | None:
    from trainfleet import jobs

    path = run_dir / "spec.yaml"
    if not path.exists():
        return None
    spec = jobs.read_yaml(path)
    return spec.get("tune") if isinstance(spec, dict) else None


def compare_runs(run_dirs: list[str | Path], out: str | Path) -> Path:
    """One PNG of several runs' training return against env steps and against training time.

    Each run is one colour, labelled by its backend, algorithm and name; every trial of a sweep is a
    line of its run's colour. The runs' specs are read as plain YAML (no import, no validation), so
    runs of any backend compare wherever their Parquet files can be read.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    if not out.resolve().parent.is_dir():
        raise UserError(f"--out {out}: the folder {out.resolve().parent} does not exist")
    runs = [_run_curves(Path(d)) for d in run_dirs]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for (label, trials), color in zip(runs, plt.rcParams["axes.prop_cycle"].by_key()["color"] * len(runs)):
        for ax, x in zip(axes, (results.ENV_STEPS, results.TIME_S)):
            for i, rows in enumerate(trials.values()):
                xs, ys = _series(rows, x, results.EPISODE_RETURN_MEAN)
                ax.plot(xs, ys, color=color, linewidth=1.5, alpha=1.0 if len(trials) == 1 else 0.6,
                        label=label if i == 0 else None)
    for ax, x in zip(axes, (results.ENV_STEPS, results.TIME_S)):
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("episode return mean")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_title("training return against env steps")
    axes[1].set_title("training return against training time")
    fig.suptitle(f"{len(runs)} runs compared")
    fig.tight_layout()
    with results.atomic_write(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out


def _run_curves(run_dir: Path) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """(legend label, trial id -> rows) of one RL run directory."""
    from trainfleet import jobs

    if not (run_dir / "metrics.parquet").exists():
        raise UserError(f"{run_dir}: no metrics.parquet (not a run directory, or no iteration finished)")
    rows = results.read_metrics(run_dir).to_pylist()
    if not any(r.get(results.EPISODE_RETURN_MEAN) is not None for r in rows):
        raise UserError(f"{run_dir}: not an RL run (no {results.EPISODE_RETURN_MEAN} to compare)")
    spec = jobs.read_yaml(run_dir / "spec.yaml") if (run_dir / "spec.yaml").exists() else {}
    env = (spec.get("env") or {}).get("id", "?")
    label = f"{spec.get('backend', '?')}: {spec.get('algorithm', '?')} on {env} ({spec.get('name') or run_dir.name})"
    return label, _by_trial(rows)
