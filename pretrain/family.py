"""The two model families the suite compares, as data: one record each, looked up by name.

    family_record("bert").build(config)   # BertModel
    FAMILIES                             # ("bert", "gpt"), the names configs and checkpoints use

What differs between them in code (the objective, decoding) lives in their own classes; what a caller
would otherwise branch on (which nn.Module, its body, how a task input is laid out, which Hugging Face
classes hold the same weights (one per layout), whether pretraining has an NSP switch, the share of
positions the objective predicts, whether generation continues one causal sequence) is a field here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pretrain.blocks.config import TransformerConfig
from pretrain.models.bert import BertModel
from pretrain.models.gpt import GptModel
from pretrain.named_records import record_named

# BERT's masked-LM rate (Devlin et al. 2018, section 3.1): the default of BertDataModule's mlm_probability, the
# rate of its fixed validation and test masks (eval_mlm_probability) and of the FLOP counts that do not know a
# run's own value.
MLM_PROBABILITY = 0.15


@dataclass(frozen=True)
class InputFormat:
    """How a family lays out one text `a`, or a pair `a`, `b`, for a task (special tokens around the text).

    starts_with_cls: a leading [CLS] whose hidden state summarises the input (BERT).
    end: the token closing the input: BERT's [SEP], GPT-1's extract token <|endoftext|> (the last real
        position, whose hidden state has seen everything).
    segment_ids: the second text gets token type 1 (BERT's segment embeddings); otherwise all 0.
    A pair is always `a [SEP] b <end>`.
    """

    starts_with_cls: bool
    end: str  # "sep" | "eos"
    segment_ids: bool

    def n_special(self, pair: bool) -> int:
        """Special tokens one input gets: [CLS]?, the [SEP] of a pair, the end token."""
        return int(self.starts_with_cls) + int(pair) + 1


@dataclass(frozen=True)
class Family:
    name: str
    model_class: type[BertModel] | type[GptModel]
    body: str  # the attribute holding the transformer stack without pretraining heads
    input_format: InputFormat
    # transformers' `model_type` (config.json) -> the class holding the same weights as our model, one per
    # layout: the classic one (BERT's / GPT-2's) and the matched one (ModernBERT's encoder / decoder, the
    # layout of Ettin's pairs). Names, not classes: transformers is imported where a model is loaded.
    hf_classes: dict[str, str] = field(hash=False)
    nsp: bool  # pretraining can add next-sentence prediction (the model and data take an `nsp` switch)
    masked_lm: bool  # the objective predicts only the masked positions (the data's mlm_probability of them)
    decoder_only: bool  # one causal stack: a generation example is `source [SEP] target`, decoded by continuing it
    hf_pipeline_tag: str  # what an exported pretraining model does, for its model card (pretrain.hf.export)
    tokenizer_kind: str  # the family's own tokenizer (pretrain.data.tokenizer): BERT's WordPiece, GPT-2's byte BPE

    def build(self, config: TransformerConfig, *, nsp: bool = True) -> BertModel | GptModel:
        """The family's model; `nsp` (families with an NSP switch only): build the next-sentence pooler and head."""
        return BertModel(config, nsp=nsp) if self.model_class is BertModel else self.model_class(config)

    def predicted_fraction(self, mlm_probability: float = MLM_PROBABILITY) -> float:
        """Share of positions the pretraining objective predicts (output-layer FLOPs): a masked LM's masking
        rate (pass the run's `data.mlm_probability`), every position for a causal LM."""
        return mlm_probability if self.masked_lm else 1.0


# BERT: `[CLS] a [SEP] b [SEP]` with segment ids 0/1, masked LM (MLM_PROBABILITY of the tokens) plus next-sentence
# prediction (Devlin et al. 2018, arXiv:1810.04805, section 3); an encoder, so generation encodes the
# source apart from the target.
BERT = Family(
    name="bert", model_class=BertModel, body="encoder",
    input_format=InputFormat(starts_with_cls=True, end="sep", segment_ids=True),
    hf_classes={"bert": "BertForPreTraining", "modernbert": "ModernBertForMaskedLM"},
    nsp=True, masked_lm=True, decoder_only=False, tokenizer_kind="wordpiece",
    hf_pipeline_tag="fill-mask",
)
# GPT: `a [SEP] b <|endoftext|>`, GPT-1's input transformations for fine-tuning (Radford et al. 2018,
# section 3.3, figure 1): a delimiter between the texts and a final extract token. Next-token LM predicts
# every position; a causal decoder generates by continuing its input.
GPT = Family(
    name="gpt", model_class=GptModel, body="decoder",
    input_format=InputFormat(starts_with_cls=False, end="eos", segment_ids=False),
    hf_classes={"gpt2": "GPT2LMHeadModel", "modernbert-decoder": "ModernBertDecoderForCausalLM"},
    nsp=False, masked_lm=False, decoder_only=True, tokenizer_kind="bpe",
    hf_pipeline_tag="text-generation",
)

_RECORDS: dict[str, Family] = {record.name: record for record in (BERT, GPT)}
FAMILIES: tuple[str, ...] = tuple(_RECORDS)


def family_record(name: str) -> Family:
    """The record of a family name; anything else is an error naming the choices."""
    return record_named(_RECORDS, name, "family")


def check_family(name: str | None) -> None:
    """An optional family option (None: either family) must name one of FAMILIES."""
    if name is not None and name not in _RECORDS:
        raise ValueError(f"family={name!r} is not supported; choose one of {', '.join(FAMILIES)} (or leave it unset)")


def family_of_hf(model_type: object) -> Family | None:
    """The family of a transformers `model_type` (None when the suite has no such family)."""
    return next((record for record in _RECORDS.values() if model_type in record.hf_classes), None)


HF_MODEL_TYPES: tuple[str, ...] = tuple(kind for record in _RECORDS.values() for kind in record.hf_classes)
