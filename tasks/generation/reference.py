"""Generation's classical reference: TF-IDF nearest-neighbour retrieval: for each test source, the training
target of the most similar training source (cosine similarity of TF-IDF vectors), the retrieval baseline of
captioning and summarisation (e.g. Devlin et al. 2015, "Exploring Nearest Neighbor Approaches for Image
Captioning")."""

from __future__ import annotations

from sklearn.metrics.pairwise import linear_kernel

from tasks.generation.data import GenerationDataModule
from tasks.generation.rouge import rouge_scores
from tasks.tfidf import tfidf


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


def tfidf_retrieval_reference(data: GenerationDataModule) -> dict[str, float]:
    """Retrieval over `data`'s train split, scored on its test split; a training source with several targets
    answers with its first."""
    train, test = data.rows("train"), data.rows("test")
    return generation_reference([data.source_text(r) for r in train], [data.targets(r)[0] for r in train],
                                [data.source_text(r) for r in test], [data.targets(r) for r in test])
