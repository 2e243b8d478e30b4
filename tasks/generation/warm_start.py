"""BERT2BERT: an encoder-decoder whose encoder and decoder are both initialised from one BERT
checkpoint, with only the decoder's cross-attention (and its norm) new (Rothe et al. 2020,
"Leveraging Pre-trained Checkpoints for Sequence Generation Tasks", arXiv:1907.12461, section 3:
the unshared BERT2BERT variant). The decoder reuses BERT's self-attention weights but runs them
causally, and BERT's MLM head becomes the language-model head.
"""

from __future__ import annotations

from pretrain.models.bert import BertModel
from pretrain.models.encoder_decoder import EncoderDecoderModel

NEW_PARAMETER_MARKERS = ("cross_attn.", "cross_norm.")


def warm_start_encoder_decoder(bert: BertModel) -> EncoderDecoderModel:
    model = EncoderDecoderModel(bert.config)
    state = bert.encoder.state_dict()
    model.encoder.load_state_dict(state)
    missing, unexpected = model.decoder.load_state_dict(state, strict=False)
    not_new = [key for key in missing if not any(marker in key for marker in NEW_PARAMETER_MARKERS)]
    if not_new or unexpected:
        raise ValueError(
            f"warm start: BERT's encoder does not fit the decoder (missing {not_new}, unexpected {unexpected})"
        )
    model.lm_head.load_state_dict(bert.mlm_head.state_dict())
    return model


def new_parameter_names(model: EncoderDecoderModel) -> list[str]:
    """Names of the parameters a warm start leaves at their random initialisation."""
    return [name for name, _ in model.named_parameters() if any(m in name for m in NEW_PARAMETER_MARKERS)]
