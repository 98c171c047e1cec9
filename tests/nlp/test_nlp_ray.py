"""Text jobs through the real platform: CLI -> Tune trial -> Ray Train workers or Ray tasks -> run directory -> eval.

Ray Train start-up costs ~30 s here, so one word2vec run goes through it; the Ray-task jobs
(TF-IDF, GloVe) and the in-trial language model are quicker.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "jobs" / "nlp"


def run_cli(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    return rc, buf.getvalue()


def train(job: str, runs: Path, *sets: str) -> tuple[Path, list[dict]]:
    argv = ["run", str(JOBS / job), "--output", str(runs)]
    for s in sets:
        argv += ["--set", s]
    rc, out = run_cli(argv)
    assert rc == 0, out
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("run dir: "))
    return run_dir, pq.read_table(run_dir / "metrics.parquet").to_pylist()


def test_skipgram_job_trains_on_ray_train_and_eval_reproduces_its_scores(ray_session, runs):
    run_dir, rows = train("skipgram_lee.yaml", runs, "stop.epochs=2")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["train_loss"] < rows[0]["train_loss"] and rows[1]["words_per_s"] > 0
    final = run_dir / "checkpoints" / "final"
    vocab = json.loads((final / "vocab.json").read_text())["words"]
    vectors = np.load(final / "embeddings.npy", allow_pickle=False)
    assert vectors.shape == (len(vocab), 100) and np.isfinite(vectors).all()
    rc, out = run_cli(["eval", str(run_dir), "--json"])
    assert rc == 0
    scores = json.loads(out)
    assert scores["wordsim353_pairs"] > 30 and 0 < scores["analogy_coverage"] < 0.05
    assert scores["wordsim353_rho"] == rows[-1]["wordsim353_rho"]  # same weights, same score
    assert 0 <= scores["sentiment_embedding_accuracy"] <= 1 and len(scores["neighbours"]["government"]) == 5


def test_tfidf_job_counts_shards_in_ray_tasks_and_ranks_documents(ray_session, runs):
    run_dir, rows = train("tfidf_lee.yaml", runs)
    assert rows[-1]["documents"] == 300
    rc, out = run_cli(["eval", str(run_dir), "--json"])
    assert rc == 0
    rankings = json.loads(out)["rankings"]
    best = rankings["Israeli and Palestinian peace talks"][0]
    assert "Israel" in best[2] or "Palestinian" in best[2], best


def test_glove_job_merges_shard_counts_losslessly_and_its_loss_falls(ray_session, runs):
    from trainfleet.dl.models.glove import Hparams, cooccurrence
    from trainfleet.dl.text.corpora import lee
    from trainfleet.dl.text.corpus import build_corpus

    run_dir, rows = train("glove_lee.yaml", runs, "stop.epochs=3")
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[-1]["train_loss"] < rows[0]["train_loss"]
    corpus = build_corpus(lee(), Hparams())
    assert rows[0]["cooccurrence_nonzeros"] == cooccurrence(corpus.ids, len(corpus.vocab), 10).nnz  # 2 shards == 1 pass
    assert "wordsim353_rho" in rows[-1]


def test_language_model_job_reports_perplexity_and_samples_text(ray_session, runs):
    run_dir, rows = train("lstm_lm_lee.yaml", runs, "stop.epochs=1", "hparams.hidden=32", "hparams.dim=16")
    assert rows[-1]["val_perplexity"] > 1 and rows[-1]["train_loss"] > 0
    rc, out = run_cli(["eval", str(run_dir), "--json", "--sample", "12"])
    assert rc == 0
    scores = json.loads(out)
    assert abs(scores["val_loss"] - rows[-1]["val_loss"]) < 1e-6  # same held-out tail, same weights
    assert scores["val_perplexity"] < scores["vocab"] and len(scores["sample"].split()) >= 12


def test_text_spec_errors_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: skipgram\ntask: embed\ndata: {dataset: digits}\nstop: {epochs: 1}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "text" in err
    assert main(["validate", str(JOBS / "skipgram_lee.yaml"), "--set", "task=classify"]) == 2
    assert "does task embed" in capsys.readouterr().err
    assert main(["validate", str(JOBS / "skipgram_lee.yaml"), "--set", "hparams.negative=0"]) == 2
    assert "negative > 0 or hs" in capsys.readouterr().err
