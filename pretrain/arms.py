"""The objectives a plan compares ("arms"), as data: one record each, looked up by name.

    arm_record("gpt-bert").family          # "gpt": its checkpoints hold a GptModel
    ARMS                                  # ("bert", "gpt", "mlm", "clm-mlm", "gpt-bert", "gpt-bi")

An arm is a pretraining objective on one of the two model families (pretrain.family), the same blocks and size
as that family's preset. What differs in code (the loss, its metrics) lives in the arm's LightningModule; the
data collation it needs is the overlay's data options; what a caller would otherwise branch on is a field here:
the family, the share of steps trained causally, the masking rate, the attention it is fine-tuned with, and
(through the family) how it generates. `bert` and `gpt` are the families' own objectives, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pretrain.family import MLM_PROBABILITY, Family, family_record
from pretrain.named_records import record_named

Attention = Literal["causal", "bidirectional"]

# The masking rate of the objectives that moved past BERT's 15%: ModernBERT (arXiv:2412.13663), MosaicBERT and
# Ettin's encoders (arXiv:2507.11412) mask 30%; their MLM accuracy is still read at BERT's 15% (fixed masks).
MODERN_MLM_PROBABILITY = 0.3


@dataclass(frozen=True)
class Arm:
    name: str
    family: str  # the model family its checkpoints hold (pretrain.family): the module, tokenizer kind, tasks' layout
    objective: str  # what it is trained on, in one line (the report's table of arms)
    # configs/pretrain/<overlay>: laid over the family's pretrain config (its module and data options); None: the
    # family's own config unchanged
    overlay: str | None
    causal_share: float  # the share of optimizer steps trained with causal LM (the rest with a masked objective)
    share_option: bool  # whether a plan sets causal_share (pretrain.causal_share) and the module takes it
    mlm_probability: float | None  # the masking rate of training; None: the family's own (BERT's 15%, or none)
    nsp: bool  # trains next-sentence prediction when the plan's pretrain.nsp is on
    # the attention of classification and NER fine-tuning (a decoder's mask removed or kept); generation always
    # decodes causally (a decoder continues its input, an encoder encodes the source apart: the family's)
    finetune_attention: Attention
    # the arm whose pretraining runs this one fine-tunes (None: its own; a plan always holds bert and gpt, the
    # arms one can share): an arm that differs only in how it is fine-tuned shares the weights, so the comparison
    # isolates the fine-tuning choice
    pretrained_with: str | None = None

    @property
    def pretraining_arm(self) -> str:
        """The arm whose pretraining runs hold this arm's checkpoints: itself, or the one it shares."""
        return self.pretrained_with or self.name

    @property
    def record(self) -> Family:
        return family_record(self.family)

    def predicted_fraction(self, causal_share: float | None = None, mlm_probability: float | None = None) -> float:
        """Share of positions the objective predicts, averaged over its steps (output-layer FLOPs): every position
        on causal steps, the masked ones on the others. Defaults: this arm's share and rate."""
        share = self.causal_share if causal_share is None else causal_share
        rate = mlm_probability or self.mlm_probability or MLM_PROBABILITY
        if share == 1.0:
            return 1.0
        return share + (1.0 - share) * rate if share else rate


BERT = Arm("bert", "bert", "masked LM 15% (80/10/10) + next-sentence prediction (Devlin et al. 2018)",
           overlay=None, causal_share=0.0, share_option=False, mlm_probability=None, nsp=True,
           finetune_attention="bidirectional")
GPT = Arm("gpt", "gpt", "causal next-token LM (Radford et al. 2018)",
          overlay=None, causal_share=1.0, share_option=False, mlm_probability=None, nsp=False,
          finetune_attention="causal")
MLM = Arm("mlm", "bert", "masked LM only, 30% masking, no NSP (RoBERTa; ModernBERT / Ettin's rate)",
          overlay="mlm.yaml", causal_share=0.0, share_option=False, mlm_probability=MODERN_MLM_PROBABILITY,
          nsp=False, finetune_attention="bidirectional")
# Gisserot-Boukhlef et al. 2025 ("Should We Still Pretrain Encoders with Masked Language Modeling?"): CLM first,
# then MLM on the same decoder, its causal mask removed; fine-tuned as the encoder it became.
CLM_MLM = Arm("clm-mlm", "gpt", "causal LM for the first share of the steps, then masked LM 30% bidirectional",
              overlay="clm-mlm.yaml", causal_share=0.5, share_option=True, mlm_probability=MODERN_MLM_PROBABILITY,
              nsp=False, finetune_attention="bidirectional")
# Charpentier & Samuel 2024 ("GPT or BERT: why not both?"): causal:masked 1:15, masked tokens predicted at the
# position before them; the BabyLM winner is fine-tuned bidirectionally.
GPT_BERT = Arm("gpt-bert", "gpt", "causal LM on 1 step in 16, masked next-token prediction 30% bidirectional",
               overlay="gpt-bert.yaml", causal_share=1 / 16, share_option=True, mlm_probability=MODERN_MLM_PROBABILITY,
               nsp=False, finetune_attention="bidirectional")

# Dukic & Snajder 2024 ("Looking Right is Sometimes Right"): gpt's own weights, its causal mask removed for
# classification and NER, so each mixed arm (fine-tuned bidirectionally) also meets a causal-LM decoder given the
# same fine-tuning attention; generation still decodes causally.
GPT_BI = Arm("gpt-bi", "gpt", "gpt's pretraining runs (shared), fine-tuned with the causal mask removed",
             overlay=None, causal_share=1.0, share_option=False, mlm_probability=None, nsp=False,
             finetune_attention="bidirectional", pretrained_with="gpt")

_RECORDS: dict[str, Arm] = {arm.name: arm for arm in (BERT, GPT, MLM, CLM_MLM, GPT_BERT, GPT_BI)}
ARMS: tuple[str, ...] = tuple(_RECORDS)
MISSION_ARMS: tuple[str, ...] = ("bert", "gpt")  # the question the suite was built for; every plan has both


def arm_record(name: str) -> Arm:
    """The record of an arm name; anything else is an error naming the choices."""
    return record_named(_RECORDS, name, "arm")
