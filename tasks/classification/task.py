"""The classification task's record: a label per text or text pair, judged by accuracy."""

from __future__ import annotations

from pretrain.data.sources import DataSource
from tasks.classification.baseline import majority_baseline
from tasks.classification.data import ClassificationDataModule
from tasks.classification.module import ClassificationModule
from tasks.classification.reference import tfidf_logreg_reference
from tasks.metric_spec import TASK_LOSS, MetricSpec
from tasks.record import MATCHED_LAYOUT_FIX, FinetuneOptions, HubExport, PerExampleStatistic, Reference, Task


def _correct(record: int) -> int:
    """A test example's record: 1 if its predicted label is right, else 0 (test/acc is their mean)."""
    return record


def _pooling_args(options: FinetuneOptions) -> list[str]:
    return ["--model.init_args.pooling", options.pooling]


CLASSIFICATION = Task(
    name="classification", module_class=ClassificationModule, data_class=ClassificationDataModule,
    config_file="classification.yaml",
    metrics=(
        MetricSpec("test/acc", "accuracy", True, ("baseline/majority_acc",), "reference/tfidf_logreg_acc"),
        MetricSpec("test/macro_f1", "macro F1", True, ("baseline/majority_macro_f1",),
                   "reference/tfidf_logreg_macro_f1"),
    ),
    logged_only=(TASK_LOSS,),
    baseline=majority_baseline,
    reference=Reference(
        method="TF-IDF + logistic regression",
        gap_meaning="a linear model over word n-grams reads the task's lexical cues directly, so a gap below it is "
                    "what these small pretrained models at this budget have not yet learned of those cues",
        score=tfidf_logreg_reference,
    ),
    per_example=PerExampleStatistic(_correct, 1, "one number each"),
    predictions_suffix=".txt",  # one label per line
    finetune_args=_pooling_args,
    hub=HubExport(
        pipeline_tag="text-classification", head_prefix="head.classifier.", pooler=True,
        classes={("bert", "classic"): "BertForSequenceClassification"},
        no_exact_class={
            ("bert", "modernbert"): "ModernBertForSequenceClassification applies a dense-GELU-norm head between the "
                                    f"pooled vector and its classifier, which our classification head lacks; "
                                    f"{MATCHED_LAYOUT_FIX}",
            ("gpt", "modernbert"): "ModernBertDecoderForSequenceClassification applies a dense-GELU-norm head before "
                                   f"its classifier, which our classification head lacks; {MATCHED_LAYOUT_FIX}",
            ("gpt", "classic"): "GPT2ForSequenceClassification's score layer has no bias and our classifier has one, "
                                "so no transformers class computes these logits",
        },
    ),
    datasets={
        # Parquet in the repository: sst2/{train,validation,test}-00000-of-00001.parquet; columns sentence,
        # label (ClassLabel negative/positive; -1 on the hidden test split), idx.
        # GLUE's test labels are hidden (-1 on the hub), so its validation set is the test set, as in the
        # BERT paper's GLUE dev results, and the last 5% of train is the validation set.
        "sst2": DataSource("nyu-mll/glue", "sst2",
                           splits={"train": "train[:95%]", "validation": "train[95%:]", "test": "validation"},
                           columns={"text": "sentence"}),
    },
)
