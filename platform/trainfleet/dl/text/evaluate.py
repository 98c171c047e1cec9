"""Scores of a text run, at the end of training and again from its checkpoint (`trainfleet eval RUN`).

Embedding runs (skipgram, cbow, glove): WordSim-353 and SimLex-999 Spearman rho, analogy accuracy
with its coverage, nearest neighbours of probe words, and sentiment accuracy from averaged vectors
beside the TF-IDF baseline. TF-IDF runs: the best documents per query and the TF-IDF sentiment
baseline. Language models: held-out perplexity and, with `--sample N`, N generated words.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainfleet.dl.text import artifacts, sentiment
from trainfleet.dl.text.embedding_eval import Embeddings, report
from trainfleet.dl.text.preprocess import normalize_word

EMBEDDINGS = "embeddings"
IDF = "idf"
EMBEDDING_MODELS = ("skipgram", "cbow", "glove")


def embedding_scores(ck: artifacts.TextCheckpoint) -> dict[str, Any]:
    hp = _hparams(ck)
    emb = Embeddings(ck.arrays[EMBEDDINGS], ck.vocab.words, partial(normalize_word, hp.preprocess))
    return report(emb) | sentiment.compare(emb, hp.preprocess, ck.spec.seed)


def tfidf_scores(ck: artifacts.TextCheckpoint, docs: list[list[str]] | None = None, texts: list[str] | None = None) -> dict[str, Any]:
    """Top documents per query (from the corpus, when given) and the TF-IDF sentiment baseline."""
    from trainfleet.dl.models.tfidf import TfIdf
    from trainfleet.dl.text.preprocess import apply

    hp = _hparams(ck)
    out: dict[str, Any] = sentiment.compare(None, hp.preprocess, ck.spec.seed)
    if docs is not None and texts is not None and hp.queries:
        model = TfIdf(ck.vocab, ck.arrays[IDF])
        matrix = model.vectors(docs)
        out["rankings"] = {q: [(i, round(s, 3), texts[i][:80]) for i, s in model.rank(apply(hp.preprocess, q), matrix, hp.top_k)]
                           for q in hp.queries}
    return out


def _hparams(ck: artifacts.TextCheckpoint) -> Any:
    return ck.spec.typed_hparams


def evaluate_text_run(ckpt_dir: str | Path, sample_words: int = 0) -> dict[str, Any]:
    """`trainfleet eval RUN` for a text run."""
    from trainfleet.dl.data.source import DataSpec, load_table
    from trainfleet.dl.text.corpus import build_corpus, texts

    torch.set_num_threads(1)
    ck = artifacts.read(ckpt_dir)
    model = ck.spec.model
    if model in EMBEDDING_MODELS:
        return embedding_scores(ck)
    table = load_table(DataSpec.model_validate(ck.spec.data))
    corpus = build_corpus(table, _hparams(ck))
    if model == "tfidf":
        return tfidf_scores(ck, corpus.tokens, texts(table))
    return language_model_scores(ck, corpus.tokens, sample_words)


def language_model_scores(ck: artifacts.TextCheckpoint, sentences: list[list[str]], sample_words: int) -> dict[str, Any]:
    from trainfleet.dl.models import language_model as lm

    hp = _hparams(ck)
    words = lm.tokens_of(ck.vocab)
    net = lm.LSTMLanguageModel(hp, len(words))
    net.load_state_dict(ck.state["model"])
    _, val = split_stream(lm.stream(sentences, ck.vocab), hp)
    ce = lm.run_epoch(net, lm.batchify(val, hp.batch_size), hp, None)
    out: dict[str, Any] = {"val_loss": ce, "val_perplexity": lm.perplexity(ce), "vocab": len(words)}
    if sample_words:
        out["sample"] = lm.sample(net, words, sentences[0][:3], sample_words, ck.spec.seed)
    return out


def split_stream(ids: np.ndarray, hp: Any) -> tuple[np.ndarray, np.ndarray]:
    """The language model's train/held-out split: the last `val_fraction` of the word stream."""
    cut = int(len(ids) * (1 - hp.val_fraction))
    return ids[:cut], ids[cut:]
