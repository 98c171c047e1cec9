"""The text pipeline and the vector space model: the notes' worked example, preprocessing, vocabulary, export."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from trainfleet.dl.text import preprocess as pp
from trainfleet.dl.text import vsm
from trainfleet.dl.text.vocab import Vocab

VOCAB = ["AI", "machine", "learning"]  # notes L6394-6400
D1 = pp.tokenize("AI and machine learning")
D2 = pp.tokenize("machine learning applications")


def test_worked_example_term_frequencies_cosine_and_jaccard():
    tf = vsm.term_frequencies([D1, D2], VOCAB)
    assert tf.tolist() == [[1, 1, 1], [0, 1, 1]]
    assert vsm.cosine(tf[0], tf[1]) == pytest.approx(2 / math.sqrt(6))
    assert round(vsm.cosine(tf[0], tf[1]), 4) == 0.8165
    assert vsm.jaccard(tf[0], tf[1]) == pytest.approx(2 / 3)
    assert vsm.euclidean(tf[0], tf[1]) == pytest.approx(1.0)


def test_idf_notes_and_smoothed_forms():
    tf = vsm.term_frequencies([D1, D2], VOCAB)
    # "AI" is in 1 of 2 documents, "machine" and "learning" in both
    assert vsm.idf(tf, "notes") == pytest.approx([math.log(2 / 2), math.log(2 / 3), math.log(2 / 3)])
    assert vsm.idf(tf, "smooth") == pytest.approx([math.log(3 / 2) + 1, 1.0, 1.0])
    weighted = vsm.tfidf(tf, vsm.idf(tf, "smooth"))
    assert weighted[0, 0] > weighted[0, 1] == weighted[1, 1]  # the rarer term weighs more


def test_rank_puts_the_matching_document_first():
    docs = [pp.tokenize(t.lower()) for t in ("the cat sat on the mat", "stock markets fell sharply", "a cat and a dog")]
    words = sorted({w for d in docs for w in d})
    tf = vsm.term_frequencies(docs, words)
    matrix = vsm.tfidf(tf, vsm.idf(tf, "smooth"))
    query = vsm.tfidf(vsm.term_frequencies([["markets", "fell"]], words), vsm.idf(tf, "smooth"))[0]
    assert vsm.rank(query, matrix, k=1)[0][0] == 1


def test_preprocessing_steps_are_switchable():
    assert pp.tokenize("I love AI.") == ["I", "love", "AI"]  # notes L6131
    text = "The mice were running faster than the cats"
    assert pp.apply(pp.Preprocess(), text) == ["the", "mice", "were", "running", "faster", "than", "the", "cats"]
    no_stop = pp.apply(pp.Preprocess(stopwords=True), text)
    assert "the" not in no_stop and "than" not in no_stop and "mice" in no_stop
    assert pp.apply(pp.Preprocess(stem=True), "running studies") == ["run", "studi"]
    assert pp.apply(pp.Preprocess(lemmatize=True), "mice were running") == ["mouse", "be", "run"]
    assert pp.normalize_word(pp.Preprocess(stem=True), "Running") == "run"


def test_vocabulary_min_count_subsampling_noise_and_huffman():
    v = Vocab.build([["a"] * 8 + ["b"] * 4 + ["c"] * 2 + ["d"] * 1 + ["e"] * 1], min_count=2)
    assert v.words == ("a", "b", "c") and v.counts.tolist() == [8, 4, 2]
    keep = v.keep_probability(0.1)
    t = 0.1 * 14
    assert keep[0] == pytest.approx((math.sqrt(8 / t) + 1) * t / 8) and keep[0] < keep[1] <= keep[2] == 1.0
    noise = v.noise_distribution()
    assert noise == pytest.approx(np.array([8, 4, 2]) ** 0.75 / (np.array([8, 4, 2]) ** 0.75).sum())
    points, codes, lengths = v.huffman()
    assert lengths.tolist() == [1, 2, 2]  # the most frequent word sits next to the root
    paths = {tuple(codes[w, :lengths[w]].tolist()) for w in range(3)}
    assert len(paths) == 3 and not any(a != b and b[:len(a)] == a for a in paths for b in paths)  # prefix-free


@pytest.mark.parametrize("name,shards", [("lee", 1), ("polarity", 1), ("wiki-head500", 3)])
def test_text_dataset_exports_to_parquet_losslessly(name, shards, tmp_path):
    from trainfleet import registry
    from trainfleet.dl.data.source import export, read_parquet

    table = registry.DATASETS[name].load()()
    path = export(name, str(tmp_path), shards)
    back = read_parquet(path)  # what a job's `data: {path: ...}` reads
    assert back.equals(table), f"{name}: the Parquet data differs from the built-in table"
    assert back.num_rows == table.num_rows > 100
    if shards > 1:
        assert len(list((tmp_path / name).glob("part-*.parquet"))) == shards
