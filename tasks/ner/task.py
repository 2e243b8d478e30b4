"""The NER task's record: a BIO tag per word, judged by entity-level F1 (conlleval semantics)."""

from __future__ import annotations

from collections.abc import Sequence

from pretrain.data.sources import PARQUET_CONVERSION, DataSource
from tasks.metric_spec import TASK_LOSS, MetricSpec
from tasks.ner.baseline import unigram_tagger_baseline
from tasks.ner.data import NerDataModule
from tasks.ner.module import NerModule
from tasks.record import MATCHED_LAYOUT_FIX, FinetuneOptions, HubExport, PerExampleStatistic, Task


def _entity_counts(record: Sequence[int]) -> Sequence[int]:
    """A test sentence's record: its [correct, predicted, gold] entities (test/entity_f1 is their micro F1)."""
    return record


def _no_args(options: FinetuneOptions) -> list[str]:
    return []


NER = Task(
    name="ner", module_class=NerModule, data_class=NerDataModule, config_file="ner.yaml",
    metrics=(MetricSpec("test/entity_f1", "entity F1", True, ("baseline/unigram_tagger_f1",)),),
    logged_only=(MetricSpec("test/entity_precision", "entity precision", True),
                 MetricSpec("test/entity_recall", "entity recall", True), TASK_LOSS),
    baseline=unigram_tagger_baseline,
    # None: the standard cheap tagger is the unigram tagger, already the trivial baseline; a CRF would need a
    # new dependency.
    reference=None,
    per_example=PerExampleStatistic(_entity_counts, 3, "[correct, predicted, gold] triples"),
    predictions_suffix=".conll",  # CoNLL columns
    finetune_args=_no_args,
    hub=HubExport(
        pipeline_tag="token-classification", head_prefix="classifier.",
        classes={("bert", "classic"): "BertForTokenClassification", ("gpt", "classic"): "GPT2ForTokenClassification"},
        no_exact_class={
            ("bert", "modernbert"): "ModernBertForTokenClassification applies a dense-GELU-norm head before its "
                                    f"classifier, which our NER head lacks; {MATCHED_LAYOUT_FIX}",
            ("gpt", "modernbert"): f"transformers has no ModernBertDecoderForTokenClassification; {MATCHED_LAYOUT_FIX}",
        },
    ),
    datasets={
        # Script repository (conll2003.py); its conversion: conll2003/{train,validation,test}/0000.parquet; columns
        # id, tokens, pos_tags, chunk_tags, ner_tags (ClassLabel O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC,
        # I-MISC).
        "conll2003": DataSource("eriktks/conll2003", revision=PARQUET_CONVERSION),
        # Script repository (wnut_17.py); its conversion: wnut_17/{train,validation,test}/0000.parquet; columns id,
        # tokens, ner_tags (ClassLabel O, B-/I- corporation, creative-work, group, location, person, product).
        "wnut_17": DataSource("leondz/wnut_17", revision=PARQUET_CONVERSION),
    },
)
