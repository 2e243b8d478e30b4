"""Classification's classical reference: TF-IDF of word unigrams and bigrams + logistic regression, the linear
bag-of-n-grams text classifier that neural classifiers are usually measured against (e.g. Wang & Manning 2012,
"Baselines and Bigrams"; Joulin et al. 2017, fastText)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from tasks.classification.baseline import label_scores
from tasks.classification.data import ClassificationDataModule
from tasks.files import Row
from tasks.tfidf import tfidf


def classification_reference(train_texts: list[str], train_labels: list[str], test_texts: list[str],
                             test_labels: list[str]) -> dict[str, float]:
    """TF-IDF + logistic regression fit on the train rows, scored on the test rows as the majority baseline is
    (label names)."""
    vectorizer = tfidf()
    # lbfgs with the default L2 strength (C=1); max_iter above the default 100 so it converges on large sets.
    classifier = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(train_texts), train_labels)
    predicted = [str(label) for label in classifier.predict(vectorizer.transform(test_texts))]
    scores = label_scores(predicted, test_labels, sorted(set(train_labels) | set(test_labels)))
    return {"reference/tfidf_logreg_acc": scores["acc"], "reference/tfidf_logreg_macro_f1": scores["macro_f1"]}


def tfidf_logreg_reference(data: ClassificationDataModule) -> dict[str, float]:
    """The reference fit on `data`'s train split and scored on its test split."""
    train, test = data.rows("train"), data.rows("test")
    return classification_reference([_text(data, r) for r in train], [data.label_text(r) for r in train],
                                    [_text(data, r) for r in test], [data.label_text(r) for r in test])


def _text(data: ClassificationDataModule, row: Row) -> str:
    """A row's text; a sentence pair is read as one text (a bag of n-grams has no segments)."""
    parts = [row.text(data.text_column)] + ([row.text(data.text_pair_column)] if data.text_pair_column else [])
    return " ".join(p for p in parts if p)
