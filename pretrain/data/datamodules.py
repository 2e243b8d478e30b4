"""LightningDataModules for both families: one base class holds every shared option and step.

Flow: ``load_corpus`` -> ``build_tokenizer`` (train split) ->
batched, cached ``.map`` tokenization (``num_proc``) -> family-specific examples (full-length NSP pairs
or single segments, kept as spans of the joined documents | packed blocks) -> ``StatefulDataLoader`` with the
family's collator.

Tokenized data sets are written to ``cache_dir/tokenized/`` under a name derived from
the corpus fingerprint and the tokenizer's hash, so a second run with the same corpus
and tokenizer reads them back instead of tokenizing. Map-style loaders get their
distributed sampler from Lightning (``use_distributed_sampler``); streaming data sets
are split per rank with ``datasets.distributed.split_dataset_by_node``.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Literal

import datasets
import lightning as L
import pyarrow.compute as pc
import torch
from datasets.distributed import split_dataset_by_node
from lightning.pytorch.utilities import rank_zero_info
from torchdata.stateful_dataloader import StatefulDataLoader
from transformers import PreTrainedTokenizerFast

from pretrain.data.bert_batches import (
    EXAMPLES_VERSION,
    STREAM_DOCUMENTS,
    BertExampleBuilder,
    ExampleStatistics,
    MlmNspCollator,
    SentenceTokenizer,
    describe_nsp_probes,
    join_documents,
)
from pretrain.data.caching import resolve_cache_dir, stable_hash
from pretrain.data.global_batches import DrawnExamples, GlobalBatchSampler
from pretrain.data.gpt_batches import CausalCollator, DocumentTokenizer, PackedBlocks, StreamPacker, flat_stream
from pretrain.data.masking import MaskedBlockCollator
from pretrain.data.nsp_pairs import SPAN_FEATURES, NspPairs
from pretrain.data.sources import SPLITS, Corpus, DataSource, DataSourceArg, load_corpus
from pretrain.data.token_files import open_stream, stream_ready, write_stream
from pretrain.data.tokenizer import build_tokenizer, continuation_table, corpus_fingerprint
from pretrain.family import MLM_PROBABILITY

DATA_VERSION = 9  # 9: NSP pairs within natural documents, negatives from another (streams of 10,000 rows)
STREAMING_TOKENIZER_DOCS = 100_000  # a streamed corpus trains its tokenizer on its first documents
_STREAMING_STATS_DOCS = 1_000
_TOKENIZED_BERT_COLUMNS = ["sentences", "num_bytes", "num_words", "num_tokens"]


class PretrainDataModule(L.LightningDataModule):
    """Shared options and steps; subclasses say how tokenized documents become examples and batches."""

    family = ""
    # The options' help for `pretrain --help` (jsonargparse reads an __init__ docstring's Args).
    OPTIONS_HELP = """Options of the pretraining data.

        Args:
            source: "builtin" (the standard library's docstrings), local files (path or glob), or a data source
                {name, config, splits, columns, local_copy} (pretrain.data.sources.DataSource), e.g.
                {name: Salesforce/wikitext, config: wikitext-103-raw-v1}; splits not given and not found are
                5% of train each (by text hash); columns maps "text" to the data's own text column
            tokenizer_kind: wordpiece (BERT style) or byte-level bpe (GPT style); both share the special tokens
            tokenizer_file: an existing tokenizer.json instead of training one
            vocab_size: the vocabulary size to train (the model's is linked from the trained tokenizer)
            max_length: tokens per example, special tokens included; at most the model's max_positions
            batch_size: examples per batch and process (global batch: batch_size * processes)
            num_workers: DataLoader worker processes
            num_proc: processes for tokenization (null: none)
            cache_dir: where tokenizers and tokenized data are cached
            streaming: stream the corpus instead of loading it (for corpora larger than memory)
            seed: seed of the shuffling and of the example building (NSP pairs, fixed validation masks)
        """

    def __init__(self, source: DataSourceArg = "builtin",
                 tokenizer_kind: Literal["wordpiece", "bpe"] = "wordpiece", tokenizer_file: str | None = None,
                 vocab_size: int = 8192,
                 max_length: int = 128, batch_size: int = 32, num_workers: int = 0, num_proc: int | None = None,
                 cache_dir: str = ".cache", streaming: bool = False, seed: int = 0) -> None:
        super().__init__()
        for name, value, low in (("vocab_size", vocab_size, 8), ("max_length", max_length, 8),
                                 ("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
            if value < low:
                raise ValueError(f"{name}={value}: expected an integer >= {low}")
        if num_proc is not None and num_proc < 1:
            raise ValueError(f"num_proc={num_proc}: expected None (no worker processes) or an integer >= 1")
        self.source = DataSource.of(source)
        self.tokenizer_kind, self.tokenizer_file, self.vocab_size = tokenizer_kind, tokenizer_file, vocab_size
        self.max_length, self.batch_size = max_length, batch_size
        self.num_workers, self.num_proc = num_workers, num_proc
        self.cache_dir, self.streaming, self.seed = cache_dir, streaming, seed
        self._corpus: Corpus | None = None
        self._tokenizer: PreTrainedTokenizerFast | None = None
        self._tokenized: dict[str, datasets.Dataset | datasets.IterableDataset] = {}
        self._examples: dict[str, torch.utils.data.Dataset | datasets.Dataset | datasets.IterableDataset] = {}

    # -- lazily built pieces (usable right after __init__, e.g. for CLI argument links) ------------------------
    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self.source, self.streaming, self.cache_dir, self.num_proc)
        return self._corpus

    @property
    def tokenizer(self) -> PreTrainedTokenizerFast:
        if self._tokenizer is None:
            train = self.corpus["train"]
            if isinstance(train, datasets.IterableDataset) and self.tokenizer_file is None:
                train = train.take(STREAMING_TOKENIZER_DOCS)
            self._tokenizer = build_tokenizer(self.tokenizer_kind, self.vocab_size, train, self.cache_dir,
                                              self.tokenizer_file)
        return self._tokenizer

    @property
    def tokenizer_vocab_size(self) -> int:
        """The embedding size the model needs (the trained vocabulary can differ from ``vocab_size``)."""
        return len(self.tokenizer)

    # -- tokenization (cached) ---------------------------------------------------------------------------------
    def _tokenize_function(self) -> SentenceTokenizer | DocumentTokenizer:
        raise NotImplementedError

    def _tokenizer_hash(self) -> str:
        return hashlib.sha256(self.tokenizer.backend_tokenizer.to_str().encode("utf-8")).hexdigest()[:16]

    def tokenized(self, split: str) -> datasets.Dataset | datasets.IterableDataset:
        """The split with per-document token ids and ``num_bytes``/``num_words``/``num_tokens`` columns."""
        if split not in self._tokenized:
            raw = self.corpus[split]
            function = self._tokenize_function()
            if isinstance(raw, datasets.IterableDataset):
                columns = raw.column_names or ["text"]  # None when a stream's features are unknown
                self._tokenized[split] = raw.map(function, batched=True, remove_columns=columns)
            else:
                key = stable_hash(DATA_VERSION, self.family, corpus_fingerprint(raw), self._tokenizer_hash())
                cache_file = resolve_cache_dir(self.cache_dir) / "tokenized" / f"{self.family}-{split}-{key}.arrow"
                self._tokenized[split] = raw.map(
                    function, batched=True, num_proc=self.num_proc, remove_columns=raw.column_names,
                    cache_file_name=str(cache_file), new_fingerprint=key, desc=f"tokenizing {split}",
                )
        return self._tokenized[split]

    # -- statistics --------------------------------------------------------------------------------------------
    def split_statistics(self, split: str) -> dict[str, int]:
        """Documents, rows, words, UTF-8 bytes and tokens of a split (streaming: of its first 1000 rows). Rows
        that name their document (a ``document`` column) count once per document."""
        data = self.tokenized(split)
        if isinstance(data, datasets.IterableDataset):
            rows = list(data.take(_STREAMING_STATS_DOCS))
            totals = {k: sum(int(r[k]) for r in rows) for k in ("num_bytes", "num_words", "num_tokens")}
            count = len(rows)
            documents = len({r["document"] for r in rows}) if rows and "document" in rows[0] else count
        else:
            totals = {k: int(pc.sum(data.data.column(k)).as_py() or 0) for k in ("num_bytes", "num_words",
                                                                                 "num_tokens")}
            count = len(data)
            documents = (int(pc.count_distinct(data.data.column("document")).as_py())
                         if "document" in data.column_names else count)
        return {"documents": documents, "rows": count, "words": totals["num_words"], "bytes": totals["num_bytes"],
                "tokens": totals["num_tokens"]}

    def bytes_per_token(self, split: str) -> float:
        """UTF-8 bytes of the split's raw text per token it produced (content tokens, no specials).

        bits per byte = loss_per_token / ln(2) / bytes_per_token.
        """
        stats = self.split_statistics(split)
        if stats["tokens"] == 0:
            raise ValueError(f"{self.source}: the {split} split produced no tokens")
        return stats["bytes"] / stats["tokens"]

    # -- examples and loaders ----------------------------------------------------------------------------------
    def _build_examples(self, split: str) -> torch.utils.data.Dataset | datasets.Dataset | datasets.IterableDataset:
        raise NotImplementedError

    def _collator(self, split: str) -> MlmNspCollator | CausalCollator | MaskedBlockCollator:
        raise NotImplementedError

    def _describe_examples(self, split: str) -> str:
        """A family's own facts about a split's examples for the "[data]" line ("" for none)."""
        return ""

    def prepare_data(self) -> None:
        """Runs once per node (local rank 0) before setup(): tokenizes every split and builds the examples
        training reads (train and validation) into the disk caches (BERT's joined documents and its pairs' spans as
        Arrow files, GPT's stream as a token file), so that every rank's setup() then only maps them read-only: one
        copy per node, shared through the page cache. The test split, small and read only by `test`, is built when
        it is asked for."""
        for split in SPLITS:
            tokenized = self.tokenized(split)
            if split != "test" and not isinstance(tokenized, datasets.IterableDataset):  # a stream is read lazily
                self._build_examples(split)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "validation"), "validate": ("validation",), "test": ("test",)}.get(stage or "",
                                                                                                      SPLITS)
        for split in wanted:
            if split in self._examples:
                continue
            examples = self._build_examples(split)
            if isinstance(examples, datasets.IterableDataset) and self.trainer is not None:
                if self.trainer.world_size > 1 and split == "train":
                    warnings.warn(
                        f"streaming with {self.trainer.world_size} processes: each reads its own part of the "
                        "stream (split_dataset_by_node) and shuffles its own buffer, so the training order is "
                        "not that of one process with the same global batch (map-style data is)", stacklevel=2,
                    )
                examples = split_dataset_by_node(examples, self.trainer.global_rank, self.trainer.world_size)
            self._examples[split] = examples
            stats = self.split_statistics(split)
            count = "streamed" if isinstance(examples, datasets.IterableDataset) else f"{len(examples)}"
            described = self._describe_examples(split)
            rows = f" ({stats['rows']} rows)" if stats["rows"] != stats["documents"] else ""
            rank_zero_info(f"[data] {self.source} {split}: {stats['documents']} documents{rows}, "
                           f"{stats['words']} words, {stats['tokens']} tokens ({self.tokenizer_kind}), "
                           f"{count} {self.family} examples"
                           + (f"; {described}" if described else ""))

    def examples(self, split: str) -> torch.utils.data.Dataset | datasets.Dataset | datasets.IterableDataset:
        if split not in self._examples:
            self.setup({"train": "fit", "validation": "validate", "test": "test"}[split])
        return self._examples[split]

    def _loader(self, split: str) -> StatefulDataLoader:
        examples = self.examples(split)
        sampler = None
        if split == "train" and not isinstance(examples, datasets.IterableDataset):
            # Shuffled by (seed, epoch) and cut into global batches of batch_size * world_size rows, one
            # share per rank: the order does not depend on the number of processes (global_batches).
            world_size, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
            sampler = GlobalBatchSampler(examples, self.batch_size, world_size, rank, shuffle=True, seed=self.seed)
            examples = DrawnExamples(examples, self.seed)
        # On a GPU, batches go to page-locked memory so the copy to the device can overlap the step.
        on_gpu = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        return StatefulDataLoader(
            examples, batch_size=self.batch_size, sampler=sampler, collate_fn=self._collator(split),
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0, pin_memory=on_gpu,
        )

    def on_before_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int) -> dict[str, torch.Tensor]:
        """On the host, before the batch moves to the device: an attention mask of ones (GPT's packed blocks, a
        BERT batch without padding) hides nothing, and reading that here costs nothing, where the model on a GPU
        would have to read it from the device (pretrain.models.host_sync) or keep it and leave SDPA's fused path."""
        mask = batch.get("attention_mask")
        if mask is not None and mask.device.type == "cpu" and bool(mask.all()):
            batch = {key: value for key, value in batch.items() if key != "attention_mask"}
        return batch

    def train_dataloader(self) -> StatefulDataLoader:
        return self._loader("train")

    def val_dataloader(self) -> StatefulDataLoader:
        return self._loader("validation")

    def test_dataloader(self) -> StatefulDataLoader:
        return self._loader("test")


def _check_masking_rates(**rates: float | None) -> None:
    for name, rate in rates.items():
        if rate is not None and not 0.0 < rate < 1.0:
            raise ValueError(f"{name}={rate}: expected a value in (0, 1), BERT uses {MLM_PROBABILITY}")


class BertDataModule(PretrainDataModule):
    """MLM + NSP batches: input_ids, attention_mask, token_type_ids, labels, next_sentence_label.

    Examples fill ``max_length`` with consecutive text of the split read as one stream
    (``bert_batches``): ``[CLS] A [SEP] B [SEP]`` with length-matched NSP negatives, or with
    ``nsp=False`` RoBERTa's single-segment ``[CLS] tokens [SEP]`` (token types and NSP labels all 0).
    """

    family = "bert"

    def __init__(self, source: DataSourceArg = "builtin",
                 tokenizer_kind: Literal["wordpiece", "bpe"] = "wordpiece", tokenizer_file: str | None = None,
                 vocab_size: int = 8192,
                 max_length: int = 128, batch_size: int = 32, num_workers: int = 0, num_proc: int | None = None,
                 cache_dir: str = ".cache", streaming: bool = False, seed: int = 0,
                 mlm_probability: float = MLM_PROBABILITY, eval_mlm_probability: float = MLM_PROBABILITY,
                 whole_word_masking: bool = False, nsp: bool = True, dupe_factor: int = 10) -> None:
        super().__init__(source, tokenizer_kind,
                         tokenizer_file, vocab_size, max_length, batch_size, num_workers, num_proc, cache_dir,
                         streaming, seed)
        _check_masking_rates(mlm_probability=mlm_probability, eval_mlm_probability=eval_mlm_probability)
        if dupe_factor < 1:
            raise ValueError(f"dupe_factor={dupe_factor}: expected >= 1 copies of the training examples (BERT: 10)")
        self.mlm_probability, self.eval_mlm_probability = mlm_probability, eval_mlm_probability
        self.whole_word_masking, self.nsp = whole_word_masking, nsp
        self.dupe_factor = dupe_factor

    def _tokenize_function(self) -> SentenceTokenizer:
        return SentenceTokenizer(self.tokenizer)

    def _build_examples(self, split: str) -> NspPairs | datasets.IterableDataset:
        tokenized = self.tokenized(split)
        builder = BertExampleBuilder(self.max_length, self.seed, self.tokenizer.cls_token_id,
                                     self.tokenizer.sep_token_id, self.nsp)  # streaming: one copy
        # Documents stay in corpus order (no shuffle before building): segments are consecutive text of one
        # document, random B segments come from the other documents of the same stream, and the loader
        # shuffles examples.
        columns = tokenized.column_names or _TOKENIZED_BERT_COLUMNS
        join = {"function": join_documents, "batched": True, "batch_size": STREAM_DOCUMENTS,
                "remove_columns": [c for c in columns if c in (*_TOKENIZED_BERT_COLUMNS, "document")]}
        build = {"function": builder, "batched": True, "batch_size": 1, "with_indices": True,
                 "remove_columns": ["stream", "sentence_documents"]}
        if isinstance(tokenized, datasets.IterableDataset):
            examples = tokenized.with_format("arrow").map(**join).with_format(None).map(**build)
            return examples.shuffle(seed=self.seed, buffer_size=1000) if split == "train" else examples
        cache = resolve_cache_dir(self.cache_dir) / "tokenized"
        stream_key = stable_hash(DATA_VERSION, tokenized._fingerprint, STREAM_DOCUMENTS)
        streams = tokenized.with_format("arrow").map(
            **join, cache_file_name=str(cache / f"bert-streams-{split}-{stream_key}.arrow"),
            new_fingerprint=stream_key, desc=f"joining {split} documents",
        ).with_format(None)
        # One stream row per map batch: the examples do not depend on num_proc.
        num_proc = min(self.num_proc, len(streams)) if self.num_proc and len(streams) > 1 else None
        copies = []
        for copy in range(self._copies(split)):
            seed = self.seed + 7_919 * copy  # copy 0 is the single-copy build
            key = stable_hash(DATA_VERSION, stream_key, self.max_length, seed, self.nsp, EXAMPLES_VERSION)
            builder = BertExampleBuilder(self.max_length, seed, self.tokenizer.cls_token_id,
                                         self.tokenizer.sep_token_id, self.nsp)
            copies.append(streams.map(
                **(build | {"function": builder.spans}), num_proc=num_proc, new_fingerprint=key, features=SPAN_FEATURES,
                cache_file_name=str(cache / f"bert-pairs-{split}-{key}.arrow"),
                desc=f"building BERT examples for {split} ({copy + 1} of {self._copies(split)})",
            ))
        spans = copies[0] if len(copies) == 1 else datasets.concatenate_datasets(copies)
        examples = NspPairs(streams, spans, self.tokenizer.cls_token_id, self.tokenizer.sep_token_id)
        tokens = self.split_statistics(split)["tokens"]
        if len(examples) == 0:
            raise ValueError(f"{self.source} {split}: {tokens} tokens, too few for one BERT example; expected at "
                             "least 2")
        if self.nsp and not examples.column("next_sentence_label").any():
            raise ValueError(
                f"{self.source} {split}: {tokens} tokens give no NSP negative (a negative's B comes from another "
                "document than its A, with room for the true B's length); expected at least two documents of "
                "some length: use more text, a smaller max_length, or nsp=False"
            )
        return examples

    def _copies(self, split: str) -> int:
        """Copies of the split's examples, each with its own A/B cuts and NSP negatives (and, as every batch,
        its own MLM masks): BERT's create_pretraining_data.py --dupe_factor 10. Training on one fixed set of
        pairs for many epochs lets the model memorise their NSP labels instead of learning the task (on the
        built-in corpus, 3000 steps are ~11 passes over one copy). Evaluation splits keep one fixed copy;
        without NSP the copies would be the same windows."""
        return self.dupe_factor if split == "train" and self.nsp else 1

    def example_statistics(self, split: str) -> ExampleStatistics:
        """Real tokens per example and NSP positive share (streaming: of the first 1000 examples)."""
        examples = self.examples(split)
        if isinstance(examples, datasets.IterableDataset):
            rows = list(examples.take(_STREAMING_STATS_DOCS))
            return ExampleStatistics.of([len(r["input_ids"]) for r in rows], [r["next_sentence_label"] for r in rows])
        return ExampleStatistics.of(examples.lengths(), examples.column("next_sentence_label"))

    def _describe_examples(self, split: str) -> str:
        stats = self.example_statistics(split)
        text = (f"{stats.mean_tokens:.1f} real tokens per example of max_length {self.max_length} "
                f"({stats.mean_tokens / self.max_length:.1%})")
        if not self.nsp:
            return text + ", single segments (no NSP)"
        train = self._examples.get("train")  # set up before validation when fitting
        probes = describe_nsp_probes(train, self._examples[split]) if split == "validation" else ""
        return text + f", NSP positives {stats.positive_share:.1%}{probes}"

    def _collator(self, split: str) -> MlmNspCollator:
        table = torch.tensor(continuation_table(self.tokenizer)) if self.whole_word_masking else None
        # Validation and test masks are fixed (seeded per example) and at their own rate, so MLM metrics compare
        # across runs, including runs that train at another masking rate (30% as ModernBERT and Ettin's encoders).
        train = split == "train"
        return MlmNspCollator(tokenizer=self.tokenizer,
                              mlm_probability=self.mlm_probability if train else self.eval_mlm_probability,
                              continuation=table, fixed_seed=None if train else self.seed)


class GptDataModule(PretrainDataModule):
    """Causal-LM batches: input_ids, attention_mask, labels (+ document_ids with ``document_mask``).

    With ``mlm_probability`` each batch also carries a masked copy of its blocks (masking.MaskedBlockCollator:
    ``masked_input_ids``, ``masked_labels``), for the objectives that train one decoder on causal and masked
    prediction (pretrain.lightning.mixed); validation and test copies are masked at ``eval_mlm_probability``
    with fixed seeds, as BertDataModule's.
    """

    family = "gpt"

    def __init__(self, source: DataSourceArg = "builtin",
                 tokenizer_kind: Literal["wordpiece", "bpe"] = "bpe", tokenizer_file: str | None = None,
                 vocab_size: int = 8192,
                 max_length: int = 128, batch_size: int = 32, num_workers: int = 0, num_proc: int | None = None,
                 cache_dir: str = ".cache", streaming: bool = False, seed: int = 0,
                 document_mask: bool = False, mlm_probability: float | None = None,
                 eval_mlm_probability: float = MLM_PROBABILITY) -> None:
        super().__init__(source, tokenizer_kind,
                         tokenizer_file, vocab_size, max_length, batch_size, num_workers, num_proc, cache_dir,
                         streaming, seed)
        _check_masking_rates(mlm_probability=mlm_probability, eval_mlm_probability=eval_mlm_probability)
        self.document_mask = document_mask
        self.mlm_probability, self.eval_mlm_probability = mlm_probability, eval_mlm_probability

    def _tokenize_function(self) -> DocumentTokenizer:
        return DocumentTokenizer(self.tokenizer)

    def _build_examples(self, split: str) -> PackedBlocks | datasets.IterableDataset:
        tokenized = self.tokenized(split)
        if isinstance(tokenized, datasets.IterableDataset):
            if split == "train":
                tokenized = tokenized.shuffle(seed=self.seed, buffer_size=1000)
            columns = ["input_ids", "num_bytes", "num_words", "num_tokens"]
            return tokenized.map(StreamPacker(self.max_length), batched=True, remove_columns=columns)
        # The stream is written once (prepare_data, local rank 0) and every rank maps the same file read-only.
        prefix = resolve_cache_dir(self.cache_dir) / "tokenized" / f"gpt-stream-{split}-{tokenized._fingerprint}"
        if not stream_ready(prefix):
            write_stream(prefix, *flat_stream(tokenized), vocab_size=len(self.tokenizer))
        tokens, starts = open_stream(prefix)
        # Training blocks are re-cut every epoch (a seeded offset); evaluation keeps one fixed cut.
        blocks = PackedBlocks(tokens, starts, self.max_length, self.seed if split == "train" else None)
        if len(blocks) == 0:
            raise ValueError(f"{self.source} {split}: {len(tokens)} tokens in all, fewer than one block of "
                             f"max_length={self.max_length}: expected more text or a smaller max_length")
        if blocks.dropped_tokens:
            rank_zero_info(f"[data] {self.source} {split}: dropped the last {blocks.dropped_tokens} of "
                           f"{len(tokens)} tokens (a partial block)")
        return blocks

    def _collator(self, split: str) -> CausalCollator | MaskedBlockCollator:
        if self.mlm_probability is None:
            return CausalCollator(document_mask=self.document_mask)
        train = split == "train"
        return MaskedBlockCollator(tokenizer=self.tokenizer, document_mask=self.document_mask,
                                   mlm_probability=self.mlm_probability if train else self.eval_mlm_probability,
                                   fixed_seed=None if train else self.seed)


PretrainDataModule.__init__.__doc__ = PretrainDataModule.OPTIONS_HELP
BertDataModule.__init__.__doc__ = PretrainDataModule.OPTIONS_HELP.replace("        Args:\n", (
    "        Args:\n            mlm_probability: share of tokens chosen for masked-LM prediction in training (default: "
    "BERT's)\n"
    "            eval_mlm_probability: the share in validation and test batches, whose masks are fixed (default: "
    "BERT's, whatever the training rate, so MLM accuracy compares across rates)\n"
    "            whole_word_masking: mask all sub-words of a chosen word together\n"
    "            nsp: sentence pairs with next-sentence labels (false: single full-length segments, as RoBERTa)\n"))
GptDataModule.__init__.__doc__ = PretrainDataModule.OPTIONS_HELP.replace("        Args:\n", (
    "        Args:\n            document_mask: attend only within each packed document (default: across them)\n"
    "            mlm_probability: also mask a copy of each block at this rate, for the objectives that mix causal and\n"
    "                masked prediction (pretrain.lightning.mixed); null: causal batches only\n"
    "            eval_mlm_probability: the rate of the copy's fixed validation and test masks (default: BERT's)\n"))
