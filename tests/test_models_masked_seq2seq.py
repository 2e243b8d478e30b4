"""MaskedSeq2Seq: BERT generating through its MLM head under UniLM's sequence-to-sequence mask."""

from __future__ import annotations

import pytest
import torch

from pretrain.models import GenerationConfig, TransformerConfig
from pretrain.models.bert import BertModel
from pretrain.models.encoder_decoder import EncoderDecoderModel
from pretrain.models.masked_seq2seq import MaskedSeq2Seq
from pretrain.models.seq2seq import Seq2SeqModel

MASK, START, EOS, PAD = 4, 2, 3, 0


def _model(position: str = "rope") -> MaskedSeq2Seq:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=60, max_positions=32, d_model=32, n_layers=2, n_heads=4, d_ff=64,
                               position=position, norm_placement="pre", final_norm=True, embedding_norm=True,
                               type_vocab_size=2, dropout=0.0, attention_dropout=0.0)
    return MaskedSeq2Seq(BertModel(config), mask_token_id=MASK).eval()


def test_no_new_parameters() -> None:
    model = _model()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in model.bert.parameters())


@pytest.mark.parametrize("position", ["learned", "rope"])
def test_teacher_forcing_equals_decoding_one_token_at_a_time(position: str) -> None:
    """Logit t of the one-pass training layout is what decoding sees after t + 1 target tokens."""
    model = _model(position)
    source, target = torch.randint(5, 60, (2, 7)), torch.randint(5, 60, (2, 6))
    full = model(source, decoder_input_ids=target).logits  # (2, 6, 60)
    for t in range(1, 7):
        torch.testing.assert_close(model(source, decoder_input_ids=target[:, :t]).logits, full[:, :t])


@pytest.mark.parametrize("kind", ["masked", "bert2bert"])
def test_target_is_causal_and_reads_the_source(kind: str) -> None:
    """Both of BERT's generation models: logit t sees the whole source and the target up to t."""
    model: Seq2SeqModel = _model()
    if kind == "bert2bert":
        model = EncoderDecoderModel(model.config).eval()
    source, target = torch.randint(5, 60, (1, 9)), torch.randint(5, 60, (1, 6))
    base = model(source, decoder_input_ids=target).logits
    changed = target.clone()
    changed[0, 4] = (changed[0, 4] + 1) % 60
    torch.testing.assert_close(model(source, decoder_input_ids=changed).logits[:, :4], base[:, :4])
    assert not torch.allclose(model(source, decoder_input_ids=changed).logits[:, 4], base[:, 4])
    other_source = source.clone()
    other_source[0, 0] = (other_source[0, 0] + 1) % 60
    assert not torch.allclose(model(other_source, decoder_input_ids=target).logits[:, 0], base[:, 0])


def test_right_padded_source_equals_the_source_alone() -> None:
    model = _model("learned")  # absolute positions: the target must start right after each row's source
    source, target = torch.randint(5, 60, (2, 8)), torch.randint(5, 60, (2, 5))
    mask = torch.ones_like(source)
    mask[1, 5:] = 0
    batched = model(source, mask, target).logits
    alone = model(source[1:, :5], None, target[1:]).logits
    torch.testing.assert_close(batched[1:], alone)


def test_greedy_generation_is_the_argmax_of_the_training_layout() -> None:
    model = _model()
    source = torch.randint(5, 60, (3, 6))
    config = GenerationConfig(max_new_tokens=5, eos_token_id=None, pad_token_id=PAD)
    new = model.generate(source, config, start_token_id=START)
    assert new.shape == (3, 5)
    prefix = torch.cat((torch.full((3, 1), START), new[:, :-1]), dim=1)
    torch.testing.assert_close(model(source, decoder_input_ids=prefix).logits.argmax(-1), new)


def test_beam_search_runs_and_keeps_the_batch() -> None:
    model = _model()
    source = torch.randint(5, 60, (2, 6))
    new = model.generate(source, GenerationConfig(max_new_tokens=4, num_beams=3, eos_token_id=EOS, pad_token_id=PAD),
                         start_token_id=START)
    assert new.shape[0] == 2 and new.shape[1] <= 4


def test_too_long_for_the_positions_is_refused() -> None:
    model = _model()
    with pytest.raises(ValueError, match="max_positions=32"):
        model(torch.randint(5, 60, (1, 20)), decoder_input_ids=torch.randint(5, 60, (1, 13)))


@pytest.mark.parametrize("kind", ["masked", "bert2bert"])
def test_both_generation_models_need_the_shifted_target(kind: str) -> None:
    """The seq2seq call (Seq2SeqModel.forward) is shared: a missing target is the same error, naming the model."""
    model: Seq2SeqModel = _model() if kind == "masked" else EncoderDecoderModel(_model().config).eval()
    with pytest.raises(ValueError, match=f"{type(model).__name__} needs decoder_input_ids"):
        model(torch.randint(5, 60, (1, 4)))
