"""The call BERT's two generation models share: MaskedSeq2Seq (the default) and EncoderDecoderModel (BERT2BERT).

Both take Hugging Face's sequence-to-sequence argument names, so the generation task and the tests use either
alike; each model defines only how it turns a source and a shifted target into the target's logits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from pretrain.models.outputs import LMOutput


class Seq2SeqModel(nn.Module, ABC):
    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
    ) -> LMOutput:
        """Source input_ids (B, S); decoder_input_ids (B, T) = start token + target[:-1] -> logits (B, T, V).

        Logit t predicts the token after decoder_input_ids[:, t]. Masks are 1 at real tokens (None: all real).
        """
        if decoder_input_ids is None:
            raise ValueError(f"{type(self).__name__} needs decoder_input_ids (the target, shifted right)")
        return self.target_logits(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask)

    @abstractmethod
    def target_logits(self, input_ids: Tensor, attention_mask: Tensor | None, decoder_input_ids: Tensor,
                      decoder_attention_mask: Tensor | None) -> LMOutput:
        """`forward` once the target is known to be given."""
