"""The Ray edge of text jobs: one Tune function trial per run, Ray Train or Ray tasks inside it.

- skipgram / cbow: a `TorchTrainer`; the encoded sentences are a Ray Dataset that Train splits
  into one shard per worker; each worker streams its shard, forms pairs and trains, and the
  workers average their matrices every `sync_every` batches (`word2vec.py`).
- glove / tfidf: the corpus is cut into `shards`; Ray tasks count co-occurrences (document
  frequencies) per shard, the trial sums them into one sparse matrix (vector) and fits.
- lstm_lm: trained in the trial process (one CPU): the model is small and sequential.

Every trial reports one row per epoch to Tune and a data-only checkpoint at the end
(`artifacts.py`), whose final row carries the evaluation scores (`evaluate.py`). Ray calls are
marked `# RAY:`.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainfleet import jobs
from trainfleet.dl.data.source import DataSpec, load_table
from trainfleet.dl.text import artifacts
from trainfleet.dl.text.corpus import IDS, Corpus, build_corpus
from trainfleet.dl.text.evaluate import EMBEDDINGS, IDF, embedding_scores, split_stream, tfidf_scores
from trainfleet.dl.text.vocab import Vocab

WORD2VEC = ("skipgram", "cbow")


def _scalars(scores: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in scores.items() if isinstance(v, (int, float))}


# ---------------------------------------------------------------- skip-gram / CBOW on Ray Train workers
def word2vec_worker(config: dict[str, Any]) -> None:
    import ray.train
    import torch.distributed as dist

    from trainfleet.dl.build import model_class
    from trainfleet.dl.text.word2vec_loop import lr_decay, train_epoch

    torch.set_num_threads(1)  # one thread per process is fastest on small CPUs (design.md)
    spec = config["spec"]  # the trial's resolved spec object, typed hparams included
    hp, vocab = spec.typed_hparams, Vocab.from_dict(config["vocab"])
    ctx = ray.train.get_context()  # RAY
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    model = model_class(spec.model)(hp, vocab, seed=spec.seed)  # the same start on every worker
    shard = ray.train.get_dataset_shard("train")  # RAY: this worker's sentences
    epochs = spec.training_epochs
    schedule = lr_decay(hp.lr, hp.min_lr, config["n_words"] * epochs)
    rng = np.random.default_rng((spec.seed, rank))
    gen = torch.Generator().manual_seed(spec.seed * 1_000 + rank)
    params = [p for p in (model.w_in, model.w_out, model.w_hs) if p is not None]

    def average() -> None:  # local SGD: every worker ends up with the mean of the matrices
        for p in params:
            dist.all_reduce(p.data)
            p.data /= world

    history, time_s = [], 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        batches = (list(b[IDS]) for b in shard.iter_batches(  # RAY: stream the shard
            batch_size=config["sentences_per_batch"], batch_format="numpy"))
        row = train_epoch(model, batches, schedule, rng, gen, world, average if world > 1 else None)
        seconds = time.perf_counter() - t0
        time_s += seconds
        words = torch.tensor([row["words"], row["train_loss"] * row["examples"], row["examples"]], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(words)
        metrics = {"epoch": epoch, "iteration": epoch, "time_s": time_s, "lr": row["lr"],
                   "train_loss": float(words[1] / max(float(words[2]), 1.0)), "words_per_s": float(words[0]) / seconds,
                   "workers": world}
        history.append(metrics)
        if epoch < epochs or rank != 0:
            ray.train.report(metrics)  # RAY
            continue
        ck = artifacts.TextCheckpoint(spec, vocab, {EMBEDDINGS: model.embeddings.numpy()}, history=history)
        metrics |= _scalars(embedding_scores(ck)) | {"stop_reason": "epochs"}
        history[-1] = metrics
        with tempfile.TemporaryDirectory() as d:
            artifacts.write(d, ck)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))  # RAY


def _word2vec(spec: jobs.JobSpec, hp: Any, corpus: Corpus, trial_dir: Path) -> Path:
    """Run the TorchTrainer; returns its final checkpoint directory (copied locally)."""
    import ray.data
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    mean_len = max(corpus.n_words / max(len(corpus.ids), 1), 1.0)
    trainer = TorchTrainer(  # RAY
        word2vec_worker,
        train_loop_config={"spec": spec, "vocab": corpus.vocab.to_dict(), "n_words": corpus.n_words,
                           "sentences_per_batch": max(1, int(hp.batch_words / mean_len))},
        scaling_config=ScalingConfig(num_workers=spec.resources.num_workers, use_gpu=False),
        datasets={"train": ray.data.from_arrow(corpus.ids_table())},  # RAY: Train splits it into shards
        run_config=RunConfig(name="word2vec", storage_path=str(trial_dir / "train")),
    )
    result = trainer.fit()  # RAY
    assert result.checkpoint is not None, "the last worker epoch reports a checkpoint"
    return Path(result.checkpoint.path)


# ---------------------------------------------------------------- GloVe / TF-IDF: shard counts in Ray tasks
def _shards(ids: list[Any], n: int) -> list[list[Any]]:
    size = math.ceil(len(ids) / n)
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _count_cooccurrence(sentences: list[np.ndarray], vocab_size: int, window: int) -> Any:
    from trainfleet.dl.models.glove import cooccurrence

    return cooccurrence(sentences, vocab_size, window)


def _count_documents(docs: list[list[str]], vocab: Vocab) -> np.ndarray:
    from trainfleet.dl.models.tfidf import document_frequency

    return document_frequency(docs, vocab)


def map_shards(fn: Any, shards: list[Any], *args: Any) -> list[Any]:
    """fn(shard, *args) for every shard in parallel Ray tasks, results in shard order."""
    import ray

    task = ray.remote(num_cpus=1)(fn)  # RAY
    common = [ray.put(a) for a in args]  # RAY: shared inputs go to the object store once
    return ray.get([task.remote(s, *common) for s in shards])  # RAY


def _glove(spec: jobs.JobSpec, hp: Any, corpus: Corpus, report: Any) -> artifacts.TextCheckpoint:
    from trainfleet.dl.models.glove import GloVe, train_epoch

    t0 = time.perf_counter()
    parts = map_shards(_count_cooccurrence, _shards(corpus.ids, hp.shards), len(corpus.vocab), hp.window)
    counts = sum(parts[1:], parts[0]).tocoo()  # sparse sum merges the shards
    count_s = time.perf_counter() - t0
    model = GloVe(hp, len(corpus.vocab), spec.seed)
    opt = torch.optim.Adagrad(model.parameters(), lr=hp.lr)
    rng = np.random.default_rng(spec.seed)
    history, time_s = [], count_s
    for epoch in range(1, spec.training_epochs + 1):
        t1 = time.perf_counter()
        loss = train_epoch(model, counts, opt, rng)
        time_s += time.perf_counter() - t1
        row = {"epoch": epoch, "iteration": epoch, "time_s": time_s, "train_loss": loss,
               "cooccurrence_nonzeros": float(counts.nnz), "count_s": count_s}
        history.append(row)
        if epoch < spec.training_epochs:
            report(row)
    return artifacts.TextCheckpoint(spec, corpus.vocab, {EMBEDDINGS: model.embeddings.numpy()}, history=history)


def _tfidf(spec: jobs.JobSpec, hp: Any, corpus: Corpus, table: Any) -> artifacts.TextCheckpoint:
    from trainfleet.dl.text.corpus import texts
    from trainfleet.dl.text.vsm import idf_weights

    t0 = time.perf_counter()
    df = sum(map_shards(_count_documents, _shards(corpus.tokens, hp.shards), corpus.vocab))
    weights = idf_weights(df, len(corpus.tokens), hp.idf)
    ck = artifacts.TextCheckpoint(spec, corpus.vocab, {IDF: weights})
    row = {"epoch": 1, "iteration": 1, "time_s": time.perf_counter() - t0, "documents": float(len(corpus.tokens)),
           "vocab": float(len(corpus.vocab))}
    scores = tfidf_scores(ck, corpus.tokens, texts(table))
    ck.history = [row | _scalars(scores)]
    return ck


# ---------------------------------------------------------------- LSTM language model in the trial
def _language_model(spec: jobs.JobSpec, hp: Any, corpus: Corpus, report: Any) -> artifacts.TextCheckpoint:
    from trainfleet.dl.models import language_model as lm

    torch.manual_seed(spec.seed)
    words = lm.tokens_of(corpus.vocab)
    net = lm.LSTMLanguageModel(hp, len(words))
    opt = torch.optim.Adam(net.parameters(), lr=hp.lr)
    train_ids, val_ids = split_stream(lm.stream(corpus.tokens, corpus.vocab), hp)
    train, val = lm.batchify(train_ids, hp.batch_size), lm.batchify(val_ids, hp.batch_size)
    history, time_s = [], 0.0
    epochs = spec.training_epochs
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        tr = lm.run_epoch(net, train, hp, opt)
        va = lm.run_epoch(net, val, hp, None)
        time_s += time.perf_counter() - t0
        row: dict[str, Any] = {"epoch": epoch, "iteration": epoch, "time_s": time_s, "train_loss": tr, "val_loss": va,
               "val_perplexity": lm.perplexity(va), "train_perplexity": lm.perplexity(tr)}
        history.append(row)
        if spec.stop.time_s is not None and time_s >= spec.stop.time_s:
            row["stop_reason"] = "time_s"
            break
        if epoch < epochs:
            report(row)
    return artifacts.TextCheckpoint(spec, corpus.vocab, state={"model": net.state_dict()}, history=history)


# ---------------------------------------------------------------- the Tune trial
def text_trial(config: dict[str, Any]) -> None:
    from ray import tune

    from trainfleet.launch import telemetry
    from trainfleet.launch.trial import trial_spec

    torch.set_num_threads(1)
    spec = trial_spec(config)
    hp = spec.typed_hparams
    table = load_table(DataSpec.model_validate(spec.data))
    corpus = build_corpus(table, hp)
    trial_id = tune.get_context().get_trial_id()  # RAY

    def report(row: dict[str, Any], checkpoint: Any = None) -> None:
        telemetry.record(spec.name, trial_id, row)
        tune.report(row, checkpoint=checkpoint)  # RAY

    if spec.model in WORD2VEC:
        ckpt_dir = _word2vec(spec, hp, corpus, Path(tune.get_context().get_trial_dir()))  # RAY
        ck = artifacts.read(ckpt_dir)
        for row in ck.history[:-1]:  # the Train workers' epochs, re-reported to Tune
            report(row)
    elif spec.model == "glove":
        ck = _glove(spec, hp, corpus, report)
        ck.history[-1] |= _scalars(embedding_scores(ck))
    elif spec.model == "tfidf":
        ck = _tfidf(spec, hp, corpus, table)
    else:
        ck = _language_model(spec, hp, corpus, report)
    final = ck.history[-1]
    final.setdefault("stop_reason", "epochs")
    with tempfile.TemporaryDirectory() as d:
        artifacts.write(d, ck)
        report(final, checkpoint=tune.Checkpoint.from_directory(d))  # RAY


def text_trainable(spec: jobs.JobSpec) -> Any:
    """What launch/run.py hands to the Tuner for a text job."""
    from ray import tune

    if spec.model in WORD2VEC:  # RAY: the trial waits while the Train workers reserve their own CPUs
        return tune.with_resources(text_trial, {"memory": 1})
    if spec.model in ("glove", "tfidf"):  # RAY: the trial's CPU, plus CPUs for the shard-counting tasks
        slots = max(spec.typed_hparams.shards - 1, 1)
        return tune.with_resources(text_trial, tune.PlacementGroupFactory([{"CPU": 1.0}] * (1 + slots)))
    return tune.with_resources(text_trial, {"CPU": 1})
