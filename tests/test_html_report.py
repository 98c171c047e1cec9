"""`trainfleet report RUN --html`: one self-contained page (figures, summary, a sweep's trials, the
eval GIF), checked as text and in headless Chromium (Debian's `chromium`, installed by .ci/run)."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from trainfleet import jobs
from trainfleet.cli import main
from trainfleet.launch.run import run_job

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium's flags for this machine's closed network (no background connections, no first-run UI)
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = main(list(argv))
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def sweep_report(ray_session, tmp_path_factory) -> Path:
    """A real 2-trial sweep with an eval GIF in its run directory, reported as HTML."""
    job = ROOT / "jobs" / "sweeps" / "q_learning_alpha_epsilon.yaml"
    spec, raw = jobs.load_job(job, {"tune.space": {"hparams.alpha": {"grid": [0.1, 0.5]}},
                                    "env.id": "FrozenLake-v1", "env.kwargs": {"is_slippery": False}})
    outcome = run_job(spec, raw, job_file=str(job), output_root=tmp_path_factory.mktemp("runs"), stream=io.StringIO())
    assert outcome.status == "completed", outcome.summary
    rc, out = cli("eval", str(outcome.run_dir), "--episodes", "1", "--gif", str(outcome.run_dir / "greedy.gif"))
    assert rc == 0, out[-800:]
    rc, out = cli("report", str(outcome.run_dir), "--html")
    assert rc == 0, out[-800:]
    page = Path(out.strip().splitlines()[-1])
    assert page == outcome.run_dir / "report.html"
    return page


def test_the_page_is_self_contained_and_holds_the_runs_results(sweep_report):
    text = sweep_report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|file:|//)""", text), "the page must not load anything"
    assert len(re.findall(r'src="data:image/png;base64,', text)) >= 2  # learning curve and trials
    assert 'src="data:image/gif;base64,' in text
    assert "q-learning-alpha-epsilon" in text and "episode_return_mean" in text
    assert text.count('<tr class="best">') == 1 and "hparams.alpha" in text


def test_the_page_renders_in_headless_chromium(sweep_report, tmp_path):
    assert CHROMIUM, "needs Debian's chromium: `apt-get install chromium` (.ci/run does)"
    shot = tmp_path / "report.png"
    common = [CHROMIUM, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1600", sweep_report.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([*common, "--dump-dom", sweep_report.as_uri()], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    visible = re.sub(r"<[^>]+>", " ", dom)
    for words in ("summary", "final metrics", "episode_return_mean", "trials (2; best highlighted)", "evaluation"):
        assert words in visible, words
