"""Text -> tokens: tokenisation, lower-casing, stop words, stemming and lemmatisation, each switchable.

The same `Preprocess` is applied to the training corpus, to evaluation words (WordSim, analogies)
and to downstream sentences, so a stemmed corpus is evaluated with stemmed probe words. Stop words
and the Porter stemmer are gensim's (offline); lemmas come from simplemma's bundled English
dictionary (no download, unlike NLTK's WordNet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# letters (any script), digits and inner apostrophes/hyphens: "don't", "state-of-the-art", "2002"
_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*", re.UNICODE)


class Preprocess(BaseModel):
    """Which normalisation steps run, in the order listed (notes L6125: tokenise, stem/lemmatise, stop words)."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: Literal["regex", "whitespace"] = Field(
        "regex", description="regex: words/numbers with inner ' or -; whitespace: split on spaces (pre-tokenised corpora)")
    lower: bool = Field(True, description="lower-case before anything else")
    stopwords: bool = Field(False, description="drop gensim's 337 English stop words (the, and, of, ...)")
    stem: bool = Field(False, description="Porter stemmer (gensim.parsing.porter): running -> run, studies -> studi")
    lemmatize: bool = Field(False, description="dictionary lemmas (simplemma, English): mice -> mouse, better -> good")
    min_len: int = Field(1, ge=1, description="drop tokens shorter than this")


def tokenize(text: str, how: str = "regex") -> list[str]:
    """Split text into word tokens ("I love AI." -> ["I", "love", "AI"], notes L6131)."""
    return text.split() if how == "whitespace" else _TOKEN.findall(text)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from gensim.parsing.preprocessing import STOPWORDS

    return frozenset(STOPWORDS)


@lru_cache(maxsize=1)
def _stemmer() -> object:
    from gensim.parsing.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stem(word)


@lru_cache(maxsize=200_000)
def lemmatize(word: str) -> str:
    import simplemma

    return simplemma.lemmatize(word, lang="en")


def apply(p: Preprocess, text: str) -> list[str]:
    """One document or sentence -> its normalised tokens."""
    tokens = tokenize(text, p.tokenizer)
    if p.lower:
        tokens = [t.lower() for t in tokens]
    if p.stopwords:
        stop = _stopwords()
        tokens = [t for t in tokens if t.lower() not in stop]
    if p.lemmatize:
        tokens = [lemmatize(t) for t in tokens]
    if p.stem:
        tokens = [stem(t) for t in tokens]
    return [t for t in tokens if len(t) >= p.min_len]


def apply_all(p: Preprocess, texts: Iterable[str]) -> list[list[str]]:
    return [apply(p, t) for t in texts]


def normalize_word(p: Preprocess, word: str) -> str:
    """An evaluation word under the corpus's normalisation (no stop-word removal: a probe word stays)."""
    w = word.lower() if p.lower else word
    if p.lemmatize:
        w = lemmatize(w)
    if p.stem:
        w = stem(w)
    return w
