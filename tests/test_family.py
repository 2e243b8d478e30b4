"""pretrain.family: one record per family; the task input layout follows it and matches the suite tokenizer."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from tasks_fixtures import tokenizer

from pretrain.data import BertDataModule
from pretrain.family import FAMILIES, MLM_PROBABILITY, family_of_hf, family_record
from pretrain.lightning import BertPretraining, GptPretraining
from pretrain.models import BertModel, GptModel, TransformerConfig
from tasks.encoding import SpecialTokens, build_input, n_special


def test_records_name_their_model_and_body() -> None:
    assert FAMILIES == ("bert", "gpt")
    config = TransformerConfig(vocab_size=40, max_positions=16, d_model=32, n_layers=2, n_heads=4, d_ff=64)
    for name, model_class in (("bert", BertModel), ("gpt", GptModel)):
        record = family_record(name)
        model = record.build(config)
        assert type(model) is model_class and hasattr(model, record.body)
        assert all(family_of_hf(kind) is record for kind in record.hf_classes)
    assert family_record("bert").hf_classes["modernbert"] == "ModernBertForMaskedLM"
    assert family_record("gpt").hf_classes["modernbert-decoder"] == "ModernBertDecoderForCausalLM"
    assert family_of_hf("t5") is None
    with pytest.raises(ValueError, match="family='xlnet' is not supported; choose one of bert, gpt"):
        family_record("xlnet")


def test_bert_layout_is_the_tokenizers_own_pair_template(tmp_path: Path) -> None:
    """BERT's `[CLS] a [SEP] b [SEP]` with segment ids 0/1 is exactly what the suite tokenizer adds itself."""
    wordpiece = tokenizer("wordpiece", tmp_path)
    special = SpecialTokens.of(wordpiece, "bert")
    a = wordpiece("the cat sat", add_special_tokens=False)["input_ids"]
    b = wordpiece("a dog", add_special_tokens=False)["input_ids"]
    expected = wordpiece("the cat sat", "a dog")
    assert build_input(a, b, "bert", special) == (expected["input_ids"], expected["token_type_ids"])
    single = wordpiece("the cat sat")
    assert build_input(a, None, "bert", special) == (single["input_ids"], single["token_type_ids"])
    assert [n_special("bert", p) for p in (False, True)] == [2, 3]


def test_gpt_layout_is_delimiter_and_extract_token(tmp_path: Path) -> None:
    wordpiece = tokenizer("wordpiece", tmp_path)
    special = SpecialTokens.of(wordpiece, "gpt")
    ids, types = build_input([10, 11], [12], "gpt", special)
    assert ids == [10, 11, special.sep, 12, special.eos] and types == [0] * 5
    assert build_input([10], None, "gpt", special) == ([10, special.eos], [0, 0])
    assert special.eos != special.sep  # GPT ends on <|endoftext|>, BERT on [SEP]
    assert [n_special("gpt", p) for p in (False, True)] == [1, 2]


def test_pretraining_facts_match_the_objectives() -> None:
    """BERT's record predicts its data module's masking rate and has the NSP switch the model and data take;
    GPT predicts every position and is the one family that generates by continuing one causal sequence."""
    bert, gpt = family_record("bert"), family_record("gpt")
    masking_rate = inspect.signature(BertDataModule).parameters["mlm_probability"].default
    assert bert.predicted_fraction() == masking_rate == MLM_PROBABILITY == 0.15 and gpt.predicted_fraction() == 1.0
    assert bert.predicted_fraction(0.3) == 0.3 and gpt.predicted_fraction(0.3) == 1.0  # GPT predicts every position
    assert bert.nsp and "nsp" in inspect.signature(BertPretraining).parameters
    assert not gpt.nsp and "nsp" not in inspect.signature(GptPretraining).parameters
    assert gpt.decoder_only and not bert.decoder_only
