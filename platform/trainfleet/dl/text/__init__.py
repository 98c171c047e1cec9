"""NLP (notes Unit 4, L6084-6562): text preprocessing, the vector space model, word embeddings and their evaluation.

Corpora and evaluation sets are read offline from gensim's bundled test data; the models live in
`dl/models/` (word2vec, glove, language_model), their Ray edge in `dl/text/train.py`.
"""

TEXT_TASKS = ("embed", "language_model")  # trained by dl/text/train.py, not by the DL engine
