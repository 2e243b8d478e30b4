"""The one text representation of the classical references (classification's and generation's)."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer


def tfidf() -> TfidfVectorizer:
    """Word unigrams and bigrams (Wang & Manning 2012 find bigrams help a linear text classifier), sublinear
    term frequency (1 + log tf, so a repeated word does not dominate), idf from the training texts,
    L2-normalised rows; otherwise scikit-learn's defaults."""
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
