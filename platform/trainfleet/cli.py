"""The `trainfleet` command line. Thin: parse arguments, call the modules, map errors to exit codes."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence

from trainfleet import terminal
from trainfleet.errors import SpecError, UserError


def _cmd_run(args: argparse.Namespace) -> int:
    from trainfleet import jobs, results

    if args.resume:
        spec, raw = results.load_run_spec(args.resume)
        job_file = None
    else:
        if not args.job:
            raise UserError("give a job file, or --resume RUN_DIR")
        spec, raw = jobs.load_job(args.job, jobs.parse_set_args(args.set))
        job_file = args.job
    from trainfleet.launch.run import run_job  # Ray, where the job needs it, only once the spec is good

    outcome = run_job(
        spec, raw, job_file=job_file, output_root=args.output, address=args.address,
        resume_dir=args.resume, dashboard=args.dashboard,
    )
    s = outcome.summary
    if s.get("best_trial") and spec.tune is not None:
        print(f"best trial: {s['best_trial']} {spec.tune.metric} {s['final_metrics'].get(spec.tune.metric)}")
    if outcome.status == "failed":
        print(f"training failed: {s['error']} (last good checkpoint kept in {outcome.run_dir / 'checkpoints'})")
    elif outcome.status == "interrupted":
        print("interrupted: the last checkpoint is kept; continue with --resume RUN_DIR")
    else:
        print(f"stopped: {s['stop_reason']}")
    print(f"run dir: {outcome.run_dir}")
    return {"completed": 0, "interrupted": 130, "failed": 1}[outcome.status]


def _cmd_validate(args: argparse.Namespace) -> int:
    from trainfleet import jobs

    failed = 0
    overrides = jobs.parse_set_args(args.set)
    for path in args.jobs:
        try:
            jobs.load_job(path, overrides)
            print(f"ok: {path}")
        except SpecError as err:
            failed += 1
            print(terminal.error_line(err), file=sys.stderr)
    return 2 if failed else 0


def _cmd_list(args: argparse.Namespace) -> int:
    from trainfleet import catalog

    items = catalog.listing(args.what)
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        for kind, rows in items.items():
            print(f"{kind}:")
            for row in rows:
                print(f"  {row['name']:<28} {row.get('backend', ''):<8} {row.get('summary', '')}".rstrip())
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.shadow:
        from trainfleet.rl.shadow import shadow_run

        out = shadow_run(args.run_dir, args.shadow, episodes=args.episodes)
    else:
        from trainfleet.evaluation import evaluate_run

        out = evaluate_run(args.run_dir, episodes=args.episodes, gif=args.gif, sample=args.sample)
    if args.json:
        print(json.dumps({k: v for k, v in out.items() if k != "returns"}))
    else:
        for k, v in out.items():
            if k != "returns":
                print(f"{k}: {v}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from trainfleet.dl.predict import predict_run

    out = predict_run(args.run_dir, args.input, args.out)
    print(f"{out['rows']} rows, columns {', '.join(out['columns'])} -> {out['out']}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    if args.html:
        if len(args.run_dir) > 1:
            raise UserError("report --html takes one run directory (several: leave out --html for one comparison PNG)")
        from trainfleet.html_report import write_html_report

        print(write_html_report(args.run_dir[0]))
        return 0
    from trainfleet.report import compare_runs, write_report

    if len(args.run_dir) > 1:
        print(compare_runs(args.run_dir, args.out))
        return 0
    for path in write_report(args.run_dir[0]):
        print(path)
    return 0


def _cmd_tensorboard(args: argparse.Namespace) -> int:
    from trainfleet.tensorboard import serve

    return serve(args.run_dirs, args.port, args.host)


def _cmd_prometheus(args: argparse.Namespace) -> int:
    from trainfleet.launch import prometheus

    return prometheus.serve(args.port, args.dir, args.ray_temp_dir, args.scrape_s)


def _cmd_detect(args: argparse.Namespace) -> int:
    from trainfleet.dl.detection.infer import detect_images

    for path, n in detect_images(args.weights, args.images, args.out, args.min_score):
        print(f"{path}  ({n} boxes)")
    return 0


def _cmd_data_export(args: argparse.Namespace) -> int:
    from trainfleet.dl.data.source import export

    print(export(args.name, args.dir, args.shards))
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from trainfleet.launch import submit

    return submit.submit(args.job, address=args.address, wait=not args.no_wait, sets=args.set, output=args.output,
                         working_dir=args.working_dir)


def _cmd_follow(args: argparse.Namespace) -> int:
    from trainfleet.launch import submit

    return getattr(submit, args.command)(args.id, address=args.address)


def build_parser() -> argparse.ArgumentParser:
    p = terminal.OneLineParser(prog="trainfleet", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a job (or a sweep) and write a run directory")
    r.add_argument("job", nargs="?")
    r.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help="override a spec field")
    r.add_argument("--output", default="runs", help="output root for run directories (default ./runs)")
    r.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS or embedded)")
    r.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a stopped run")
    r.add_argument("--dashboard", action="store_true", help="start the Ray dashboard with the embedded Ray")
    r.set_defaults(func=_cmd_run)

    v = sub.add_parser("validate", help="check job files without running them")
    v.add_argument("jobs", nargs="+")
    v.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help="check with this override")
    v.set_defaults(func=_cmd_validate)

    ls = sub.add_parser("list", help="list algorithms, envs, models or datasets")
    ls.add_argument("what", nargs="?", default="algorithms", choices=["algorithms", "envs", "models", "datasets", "all"])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_list)

    e = sub.add_parser("eval", help="evaluate a run's final checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--gif", default=None, help="record the first episode to this GIF file")
    e.add_argument("--sample", "--samples", type=int, default=0, metavar="N",
                   help="language models: generate N words; captioners: N captions beside their references")
    e.add_argument("--shadow", default=None, metavar="BASELINE",
                   help="cooling agents: BASELINE (fixed_setpoints | rule_based | pid) controls the plant while the "
                        "agent proposes; report how they differ and what the proposals would cost")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_cmd_eval)

    pr = sub.add_parser("predict", help="a DL run's predictions for the rows of a Parquet file, written to Parquet")
    pr.add_argument("run_dir")
    pr.add_argument("input", help="Parquet file with the feature columns the model was trained on")
    pr.add_argument("--out", required=True, help="Parquet file to write (input's other columns + predictions)")
    pr.set_defaults(func=_cmd_predict)

    rp = sub.add_parser("report", help="write learning-curve PNGs into the run directory; "
                        "several run directories: one PNG comparing them")
    rp.add_argument("run_dir", nargs="+")
    rp.add_argument("--out", default="comparison.png", help="the comparison PNG of several runs (default ./comparison.png)")
    rp.add_argument("--html", action="store_true", help="also write RUN_DIR/report.html: one self-contained page")
    rp.set_defaults(func=_cmd_report)

    tb = sub.add_parser("tensorboard", help="serve TensorBoard over run directories (sweeps and live runs too)")
    tb.add_argument("run_dirs", nargs="+")
    tb.add_argument("--port", type=int, default=6006)
    tb.add_argument("--host", default="127.0.0.1")
    tb.set_defaults(func=_cmd_tensorboard)

    pm = sub.add_parser("prometheus", help="run Prometheus on the local Ray cluster's metrics (live charts)")
    pm.add_argument("--port", type=int, default=9090)
    pm.add_argument("--dir", default=None, help="config and data (default ~/.cache/trainfleet/prometheus)")
    pm.add_argument("--ray-temp-dir", default=None, help="where the Ray head writes its discovery file "
                    "(default: Ray's temp dir, $RAY_TMPDIR/ray or /tmp/ray)")
    pm.add_argument("--scrape-s", type=float, default=5.0, help="seconds between scrapes")
    pm.set_defaults(func=_cmd_prometheus)

    dt = sub.add_parser("detect", help="draw a detector's boxes on images (PNG per image)")
    dt.add_argument("images", nargs="+", metavar="IMAGE")
    dt.add_argument("--weights", required=True, metavar="FILE", help="a detector weights file (weights-only torch.save), or a yolo/detr run directory")
    dt.add_argument("--out", default=".", metavar="DIR", help="where IMAGE.boxes.png go (default: here)")
    dt.add_argument("--min-score", type=float, default=0.3, help="draw detections scored at least this")
    dt.set_defaults(func=_cmd_detect)

    d = sub.add_parser("data", help="built-in datasets: export to Parquet")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dx = dsub.add_parser("export", help="write a built-in dataset to DIR/NAME.parquet (local path or URI)")
    dx.add_argument("name")
    dx.add_argument("dir")
    dx.add_argument("--shards", type=int, default=1, help="write DIR/NAME/part-*.parquet, this many files")
    dx.set_defaults(func=_cmd_data_export)

    s = sub.add_parser("submit", help="submit a job to a Ray cluster through the Jobs API")
    s.add_argument("job")
    s.add_argument("--address", default=None, help="https://HEAD:8265 or http://HEAD:8265 (default: RAY_ADDRESS)")
    s.add_argument("--working-dir", default=None, metavar="DIR",
                   help="folder to upload (default: the nearest folder above the job with a pyproject.toml)")
    s.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    s.add_argument("--output", default=None, help="output root on the cluster (default ./runs in the job's working dir)")
    s.add_argument("--no-wait", action="store_true", help="print the submission id and return")
    s.set_defaults(func=_cmd_submit)

    for name, text in (("status", "state and progress of a submitted job"), ("logs", "logs of a submitted job"),
                       ("watch", "follow a submitted job's training live (its progress lines)"),
                       ("stop", "stop a submitted job")):
        f = sub.add_parser(name, help=text)
        f.add_argument("id")
        f.add_argument("--address", default=None)
        f.set_defaults(func=_cmd_follow)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return terminal.run(build_parser(), argv)


def console(argv: Sequence[str] | None = None) -> None:
    """The `trainfleet` command: `main`, then the process exit. Freezing the collector's objects first
    spares the interpreter's shutdown a walk over every one of them (~1 s here once torch._dynamo is
    loaded, 0.3 s frozen); atexit handlers (Ray's shutdown among them) still run."""
    code = main(argv)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
