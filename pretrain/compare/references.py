"""Classical references: what a standard method with no neural network scores on the same test rows.

    python -m pretrain.compare.references   # the built-in tasks' references, as the comparison computes them

- classification: TF-IDF of word unigrams and bigrams + logistic regression, the linear bag-of-n-grams
  text classifier that neural classifiers are usually measured against (e.g. Wang & Manning 2012,
  "Baselines and Bigrams"; Joulin et al. 2017, fastText);
- generation: TF-IDF nearest-neighbour retrieval: for each test source, the training target of the most
  similar training source (cosine similarity of TF-IDF vectors), the retrieval baseline of captioning and
  summarisation (e.g. Devlin et al. 2015, "Exploring Nearest Neighbor Approaches for Image Captioning");
- NER: none. The standard cheap tagger is the unigram tagger, already a trivial baseline
  (pretrain.compare.baselines); a CRF would need a new dependency.

Both are fit on the task's training split with scikit-learn, read by the task's own data module (the rows
and label names the trivial baselines read, pretrain.compare.baselines.task_baseline) and scored on its test
split with the baselines' scorers (`label_scores`, `rouge_scores`: the torchmetrics metrics the models log).

They are references, not baselines a model must beat: a method that memorises the training set is a fair
yardstick of how far a small model is from the data's ceiling, not a floor. So results.json keeps them apart
(TaskResults.references, keys "reference/<name>") and no MetricSpec lists them among its `baseline_keys`:
no verdict or "beats the baseline" note reads them.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import linear_kernel

from pretrain.compare.baselines import label_scores, rouge_scores
from pretrain.compare.source_check import task_data_module
from pretrain.data.sources import DataSource
from tasks.classification.data import ClassificationDataModule
from tasks.files import Row
from tasks.generation.data import GenerationDataModule

# What each task's reference is, in words (the report's row label and its explanation of the gap).
METHODS: dict[str, str] = {
    "classification": "TF-IDF + logistic regression",
    "generation": "TF-IDF nearest-neighbour retrieval",
}
GAP_MEANING: dict[str, str] = {
    "classification": "a linear model over word n-grams reads the task's lexical cues directly, so a gap below it is "
                      "what these small pretrained models at this budget have not yet learned of those cues",
    "generation": "retrieval answers with the summary of the most similar training source, so a gap below it says "
                  "these small pretrained models at this budget are far from a classical method that memorises "
                  "near-duplicates, not that the task cannot be learned",
}
REFERENCE_TASKS = tuple(METHODS)


def tfidf() -> TfidfVectorizer:
    """The one text representation of both references: word unigrams and bigrams (Wang & Manning 2012 find
    bigrams help a linear text classifier), sublinear term frequency (1 + log tf, so a repeated word does
    not dominate), idf from the training texts, L2-normalised rows; otherwise scikit-learn's defaults."""
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)


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


def nearest_targets(train_sources: list[str], train_targets: list[str], test_sources: list[str]) -> list[str]:
    """For each test source, the target of the training source with the highest TF-IDF cosine similarity
    (TfidfVectorizer's rows are L2-normalised, so the linear kernel is the cosine); ties go to the earlier
    training row."""
    vectorizer = tfidf()
    train = vectorizer.fit_transform(train_sources)  # (train, vocabulary), fit on the training sources only
    similarity = linear_kernel(vectorizer.transform(test_sources), train)  # (test, train)
    return [train_targets[int(i)] for i in similarity.argmax(axis=1)]  # the first maximum of each row


def generation_reference(train_sources: list[str], train_targets: list[str], test_sources: list[str],
                         references: list[list[str]]) -> dict[str, float]:
    """TF-IDF nearest-neighbour retrieval, scored against each test row's references as the copy baseline is."""
    scores = rouge_scores(nearest_targets(train_sources, train_targets, test_sources), references)
    return {f"reference/tfidf_retrieval_{key}": value for key, value in scores.items()}


def task_reference(task: str, source: DataSource) -> dict[str, float]:
    """The classical reference of `task` on `source` (train split fit, test split scored); {} for a task
    without one (NER)."""
    if task not in REFERENCE_TASKS:
        return {}
    module = task_data_module(task, source)
    module.prepare_labels()
    train, test = module.rows("train"), module.rows("test")
    if isinstance(module, ClassificationDataModule):
        return classification_reference([_text(module, r) for r in train], [module.label_text(r) for r in train],
                                        [_text(module, r) for r in test], [module.label_text(r) for r in test])
    assert isinstance(module, GenerationDataModule)
    # A training source with several targets answers with its first.
    return generation_reference([module.source_text(r) for r in train], [module.targets(r)[0] for r in train],
                                [module.source_text(r) for r in test], [module.targets(r) for r in test])


def _text(module: ClassificationDataModule, row: Row) -> str:
    """A row's text; a sentence pair is read as one text (a bag of n-grams has no segments)."""
    parts = [row.text(module.text_column)] + ([row.text(module.text_pair_column)] if module.text_pair_column else [])
    return " ".join(p for p in parts if p)


if __name__ == "__main__":
    for name in REFERENCE_TASKS:
        print(name, {key: round(value, 4) for key, value in task_reference(name, DataSource("builtin")).items()})
