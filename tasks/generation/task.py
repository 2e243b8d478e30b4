"""The generation task's record: a summary per source text, judged by ROUGE-L."""

from __future__ import annotations

import math

from pretrain.data.sources import PARQUET_CONVERSION, DataSource
from tasks.generation.baseline import copy_and_constant_baseline
from tasks.generation.data import GenerationDataModule
from tasks.generation.module import GenerationModule
from tasks.generation.reference import tfidf_retrieval_reference
from tasks.metric_spec import TASK_LOSS, MetricSpec
from tasks.record import FinetuneOptions, HubExport, PerExampleStatistic, Reference, Task


def _rouge_l(record: dict[str, float]) -> float:
    """A test example's record: its ROUGE F-measures against its best reference (test/rougeL: mean "rougeL")."""
    return record["rougeL"]


# The validation examples a comparison's generation run decodes; its ROUGE-L on them picks the learning rate and
# the checkpoint.
VALIDATION_EXAMPLES = 128


def _comparison_args(options: FinetuneOptions) -> list[str]:
    """Decode as many tokens as a training target holds, and validate on the decoded examples only: the
    teacher-forced loss over the rest of the split chooses nothing, and it was 70-80% of a validation (measured:
    3.6 s of GPT's validations, 128 of 629 examples decoded, one thread)."""
    return ["--data.init_args.max_target_length", str(options.max_target_length),
            "--model.init_args.max_new_tokens", str(options.max_target_length),
            "--model.init_args.validation_decode_limit", str(VALIDATION_EXAMPLES),
            "--trainer.limit_val_batches", str(math.ceil(VALIDATION_EXAMPLES / options.batch_size))]


GENERATION = Task(
    name="generation", module_class=GenerationModule, data_class=GenerationDataModule,
    config_file="generation.yaml",
    metrics=(
        MetricSpec("test/rougeL", "ROUGE-L", True, ("baseline/copy_rougeL", "baseline/constant_rougeL"),
                   "reference/tfidf_retrieval_rougeL"),
        MetricSpec("test/rouge1", "ROUGE-1", True, ("baseline/copy_rouge1", "baseline/constant_rouge1"),
                   "reference/tfidf_retrieval_rouge1"),
        MetricSpec("test/bleu", "BLEU", True),
    ),
    logged_only=(MetricSpec("test/rouge2", "ROUGE-2", True), MetricSpec("test/ppl", "perplexity", False), TASK_LOSS),
    baseline=copy_and_constant_baseline,
    reference=Reference(
        method="TF-IDF nearest-neighbour retrieval",
        gap_meaning="retrieval answers with the summary of the most similar training source, so a gap below it says "
                    "these small pretrained models at this budget are far from a classical method that memorises "
                    "near-duplicates, not that the task cannot be learned",
        score=tfidf_retrieval_reference,
    ),
    per_example=PerExampleStatistic(_rouge_l, 1, "one number each"),
    predictions_suffix=".jsonl",
    finetune_args=_comparison_args,
    generates=True,
    # Summaries repeat the names of their source: a backbone that cannot copy stays near the copy baseline.
    copies_source=True,
    # The GPT fine-tuned for generation is its whole causal LM; BERT's decoding has no transformers class.
    hub=HubExport(
        pipeline_tag="text-generation", head_prefix=None,
        no_exact_class={("bert", layout): "BERT generation decodes with its MLM head under a sequence-to-sequence "
                                          "mask (or as BERT2BERT), which no transformers class runs"
                        for layout in ("classic", "modernbert")},
    ),
    datasets={
        # Script repository (xsum.py); its conversion: default/{train,validation,test}/0000.parquet; columns
        # document, summary, id.
        "xsum": DataSource("EdinburghNLP/xsum", columns={"source": "document", "target": "summary"},
                           revision=PARQUET_CONVERSION),
    },
)
