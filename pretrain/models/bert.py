"""BERT: a bidirectional encoder with masked-LM and next-sentence heads (Devlin et al. 2018, arXiv:1810.04805)."""

from __future__ import annotations

from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.models.heads import MaskedLMHead, Pooler
from pretrain.models.init import init_weights
from pretrain.models.outputs import BertOutput
from pretrain.models.stack import TransformerStack


class BertModel(nn.Module):
    """Encoder + tied MLM head; with `nsp` also the pooler and next-sentence classifier.

    Without NSP (RoBERTa's objective, the `mlm` arm) neither is built: a module that takes no part in the
    loss gets no gradient, which DDP with `find_unused_parameters: false` stops on, and they would only
    add parameters nobody trains. (nn.Linear draws at construction, so the switch changes the seeded weights.)
    """

    def __init__(self, config: TransformerConfig, *, nsp: bool = True) -> None:
        super().__init__()
        self.config = config
        self.nsp = nsp
        self.encoder = TransformerStack(config, causal=False)
        self.mlm_head = MaskedLMHead(config, self.encoder.embeddings.tokens)
        self.pooler = Pooler(config) if nsp else None
        self.nsp_head = nn.Linear(config.d_model, 2) if nsp else None
        init_weights(self, config)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        *,
        masked_positions: Tensor | None = None,
        need_weights: bool = False,
    ) -> BertOutput:
        """input_ids, attention_mask, token_type_ids: (B, T).

        `masked_positions` (B, T) bool selects where MLM logits are computed: (N, V) instead of
        (B, T, V). Pretraining passes `labels != IGNORE_INDEX`, skipping ~85% of the vocabulary matmul.
        `nsp_logits` is None for a model built without NSP.
        """
        body = self.encoder(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, need_weights=need_weights
        )
        hidden = body.hidden_states  # (B, T, D)
        mlm_input = hidden if masked_positions is None else hidden[masked_positions]  # (B, T, D) | (N, D)
        return BertOutput(
            mlm_logits=self.mlm_head(mlm_input),
            nsp_logits=None if self.nsp_head is None or self.pooler is None else self.nsp_head(self.pooler(hidden)),
            hidden_states=hidden,
            attentions=body.attentions,
        )
