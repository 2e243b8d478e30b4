"""Fine-tune for generation: GPT continues `source [SEP]`; BERT fills one [MASK] after the source and the
tokens so far with its own MLM head (``MaskedSeq2Seq``, the default) or becomes a warm-started encoder-decoder
(BERT2BERT, ``bert_generation: bert2bert``).

Validation and test report the target's loss and perplexity (teacher forcing) and, from decoded
text, ROUGE-1/2/L F-measure and corpus BLEU-4 against all references (torchmetrics); decoding
uses the models' KV-cached `generate` with the options below. Validation decodes only with
`generate_during_validation` (off by default: the teacher-forced loss picks the checkpoint cheaply).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Literal

from lightning.pytorch.loggers import WandbLogger
from torch import Tensor
from torchmetrics.text import BLEUScore, Perplexity, ROUGEScore

from pretrain.checkpoint import Backbone
from pretrain.family import family_record
from pretrain.models.encoder_decoder import EncoderDecoderModel
from pretrain.models.generation import GenerationConfig
from pretrain.models.gpt import GptModel
from pretrain.models.loss import next_token_targets, token_cross_entropy
from pretrain.models.masked_seq2seq import MaskedSeq2Seq
from pretrain.models.seq2seq import Seq2SeqModel
from tasks.base import TaskDataModule, TaskModule
from tasks.encoding import IGNORE_INDEX
from tasks.generation.data import GenerationDataModule
from tasks.generation.rouge import ROUGE_KEYS
from tasks.generation.warm_start import warm_start_encoder_decoder


class GenerationModule(TaskModule):
    weights_hparams = (*TaskModule.weights_hparams, "bert_generation")

    # The task's own options; *args and **options are TaskModule's (jsonargparse follows
    # them into its signature and help: `finetune --help`, the config keys).
    def __init__(
        self,
        *args: Any,
        max_new_tokens: int = 32,
        num_beams: int = 1,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        length_penalty: float = 1.0,
        no_repeat_ngram_size: int = 3,
        generate_during_validation: bool = False,
        validation_decode_limit: int = 0,
        num_logged_samples: int = 8,
        bert_generation: Literal["masked", "bert2bert"] = "masked",
        **options: Any,
    ) -> None:
        """Options of the generation module, besides TaskModule's.

        Args:
            max_new_tokens: decode at most this many tokens (also bounded by GPT's max_positions)
            num_beams: beam search width (1 = greedy or sampling)
            do_sample: sample instead of argmax
            temperature: sampling temperature
            top_k: sample among the k most likely tokens (0 = all)
            top_p: nucleus sampling mass (1.0 = off)
            length_penalty: beam score = log p / length ** length_penalty
            no_repeat_ngram_size: never generate an n-gram of this size twice (0 = off; 3 = trigram blocking,
                which stops the loops a small model falls into)
            generate_during_validation: also decode during validation for val ROUGE/BLEU (slower), so that the
                checkpoint can be picked by val/rougeL, the task's own metric
            validation_decode_limit: decode only the first this many validation examples (0 = all): a fixed
                subset keeps val ROUGE cheap and comparable between validations
            num_logged_samples: decoded samples logged per evaluation (W&B table)
            bert_generation: how BERT generates: 'masked' fills one [MASK] after the source and the tokens so far
                with BERT's own MLM head (UniLM's sequence-to-sequence mask, no new weights); 'bert2bert'
                warm-starts an encoder-decoder (Rothe et al. 2020; new cross-attention)
        """
        # The run's decoding, validated before any weights load; generation_config adds the tokenizer's ids.
        decoding = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature,
                                    top_k=top_k, top_p=top_p, num_beams=num_beams, length_penalty=length_penalty,
                                    no_repeat_ngram_size=no_repeat_ngram_size)
        if options.get("decoder_attention", "causal") != "causal":
            raise ValueError(f"decoder_attention={options['decoder_attention']!r}: generation decodes left to right, "
                             "so a decoder keeps its causal mask (decoder_attention: causal)")
        super().__init__(*args, **options)
        self.decoding = decoding

    def build(self, backbone: Backbone) -> None:
        if backbone.record.decoder_only:
            if not isinstance(backbone.model, GptModel):
                raise ValueError(f"a gpt backbone must be a GptModel, got {type(backbone.model).__name__}")
            self.model: GptModel | EncoderDecoderModel | MaskedSeq2Seq = backbone.model
        elif self.hparams.bert_generation == "masked":
            self.model = MaskedSeq2Seq(backbone.model, self.tokenizer.mask_token_id)
        else:
            self.model = warm_start_encoder_decoder(backbone.model)
        self.samples: list[list[str]] = []

    def configure_task(self, datamodule: TaskDataModule) -> None:
        if not isinstance(datamodule, GenerationDataModule):
            raise ValueError(f"GenerationModule needs a GenerationDataModule, got {type(datamodule).__name__}")
        for split in ("val", "test"):
            setattr(self, f"{split}_ppl", Perplexity(ignore_index=IGNORE_INDEX))
            setattr(self, f"{split}_rouge", ROUGEScore(rouge_keys=ROUGE_KEYS))
            setattr(self, f"{split}_bleu", BLEUScore(n_gram=4))

    def generation_config(self, prompt_length: int) -> GenerationConfig:
        # GPT's prompt and continuation share its positions; never decode past max_positions.
        room = self.backbone_config.max_positions - (prompt_length if family_record(self.family).decoder_only else 1)
        return replace(self.decoding, max_new_tokens=max(1, min(self.decoding.max_new_tokens, room)),
                       eos_token_id=self.special.eos, pad_token_id=self.special.pad)

    def forward(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits (B, T, V) and the aligned labels (B, T)."""
        if isinstance(self.model, Seq2SeqModel):
            out = self.model(batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"],
                             batch["decoder_attention_mask"])
            return out.logits, batch["labels"]
        logits = self.model(batch["input_ids"], batch["attention_mask"]).logits
        return logits[:, :-1], next_token_targets(batch["labels"])  # logit t predicts token t + 1

    def generate_ids(self, batch: dict[str, Any]) -> list[list[int]]:
        """New token ids per source (KV-cached decoding), cut before the end token."""
        config = self.generation_config(batch["prompt_ids"].shape[1])
        if isinstance(self.model, Seq2SeqModel):
            if not bool(batch["prompt_mask"][:, 0].all()):
                raise ValueError("BERT sources must be right-padded (prompt_mask[:, 0] all 1): the encoder "
                                 "numbers positions from 0, so left padding would move [CLS] off position 0")
            new = self.model.generate(batch["prompt_ids"], config, batch["prompt_mask"],
                                      start_token_id=self.special.cls)
        else:
            new = self.model.generate(batch["prompt_ids"], config, batch["prompt_mask"])
        return [row[:row.index(self.special.eos)] if self.special.eos in row else row for row in new.tolist()]

    def generate(self, batch: dict[str, Any]) -> list[str]:
        return [self.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in self.generate_ids(batch)]

    def training_loss(self, batch: dict[str, Any]) -> Tensor:
        """Mean cross-entropy over the target tokens (teacher forcing)."""
        if isinstance(self.model, GptModel):
            # Pretraining's LM loss: the head is fused into a chunked loss, so no (B, T, V) logits are
            # kept for backward; it shifts the labels itself (prompt and padding labels are ignored).
            return self.model.lm_loss(batch["input_ids"], batch["labels"], batch["attention_mask"])
        # BERT generates through its MLM head (a transform before the tied projection), which the
        # fused loss does not cover; its logits are (B, T_target, V), the target only.
        logits, labels = self(batch)
        return token_cross_entropy(logits, labels)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self.training_loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def _evaluate(self, batch: dict[str, Any], split: str, decode: int) -> None:
        """Teacher-forced loss and perplexity on the batch; ROUGE/BLEU on its first `decode` rows."""
        if not batch["has_target"]:
            raise ValueError(f"the {split} split has sources without a target; it cannot be scored")
        # torchmetrics' Perplexity needs the logits, so every family's loss is read from them here rather
        # than from a second, fused forward pass (for GPT it equals GptModel.lm_loss up to rounding).
        logits, labels = self(batch)
        size = labels.shape[0]
        loss = token_cross_entropy(logits, labels)
        self.log(f"{split}/loss", loss, batch_size=size)
        ppl = getattr(self, f"{split}_ppl")
        ppl.update(logits.float(), labels)
        self.log(f"{split}/ppl", ppl, batch_size=size)
        if not decode:
            return
        if decode < size:
            batch = {k: v[:decode] if isinstance(v, (Tensor, list)) else v for k, v in batch.items()}
        predictions = self.generate(batch)
        getattr(self, f"{split}_rouge").update(predictions, batch["references"])
        getattr(self, f"{split}_bleu").update(predictions, batch["references"])
        room = self.hparams.num_logged_samples - len(self.samples)
        for source, prediction, references in list(zip(batch["sources"], predictions, batch["references"]))[:room]:
            self.samples.append([source, prediction, references[0]])

    def _log_text_metrics(self, split: str) -> None:
        rouge, bleu = getattr(self, f"{split}_rouge"), getattr(self, f"{split}_bleu")
        if rouge.update_count:
            scores = rouge.compute()
            self.log_dict({f"{split}/{key}": scores[f"{key}_fmeasure"] for key in ROUGE_KEYS})
            self.log(f"{split}/bleu", bleu.compute())
            if split == "test":
                # ROUGEScore keeps one score per example (the best over its references) in a list
                # state named `<key>_<score>` and reports their mean: read, these are exact.
                columns = [[float(v) for v in getattr(rouge, f"{key}_fmeasure")] for key in ROUGE_KEYS]
                self.per_example = [dict(zip(ROUGE_KEYS, row)) for row in zip(*columns)]
        rouge.reset()
        bleu.reset()
        if self.samples and isinstance(self.logger, WandbLogger):
            self.logger.log_table(key=f"{split}/samples", columns=["source", "prediction", "reference"],
                                  data=self.samples)
        self.samples = []

    def on_validation_epoch_start(self) -> None:
        self._val_decoded = 0  # examples decoded so far in this validation (validation_decode_limit)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        limit, rows = self.hparams.validation_decode_limit, len(batch["references"])
        decode = rows
        if limit:  # the first `limit` examples, in the (unshuffled) validation order
            decode = max(0, min(rows, limit - self._val_decoded))
            self._val_decoded += decode
        self._evaluate(batch, "val", decode=decode if self.hparams.generate_during_validation else 0)

    def on_validation_epoch_end(self) -> None:
        self._log_text_metrics("val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test", decode=len(batch["references"]))

    def on_test_epoch_end(self) -> None:
        self._log_text_metrics("test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[str]:
        """JSON lines: source, prediction and the references (empty when the input had none)."""
        return [
            json.dumps({"source": s, "prediction": p, "references": r}, ensure_ascii=False)
            for s, p, r in zip(batch["sources"], self.generate(batch), batch["references"])
        ]
