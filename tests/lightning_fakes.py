"""A tiny in-memory data module with the agreed batch keys, for the pretraining tests.

Every item is a pure function of its index (seeded generator), so runs are reproducible and
resumable through StatefulDataLoader without depending on the global RNG.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from tokenizers import Tokenizer, models, pre_tokenizers
from torch import Tensor
from torch.utils.data import Dataset, DistributedSampler
from torchdata.stateful_dataloader import StatefulDataLoader
from transformers import PreTrainedTokenizerFast

from pretrain.blocks.config import TransformerConfig
from pretrain.data.masking import MaskedBlockCollator

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>"]


def tiny_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), vocab_size)})
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", eos_token="<|endoftext|>", bos_token="<|endoftext|>",
    )


class TinyDataset(Dataset):
    """Sequences with a learnable pattern (token t+1 = token t + 1, mod the word range)."""

    def __init__(self, family: str, size: int, seq_len: int, vocab_size: int, offset: int) -> None:
        self.family, self.size, self.seq_len, self.vocab_size, self.offset = family, size, seq_len, vocab_size, offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(self.offset + index)
        n_words = self.vocab_size - len(SPECIALS)
        start = int(torch.randint(n_words, (1,), generator=g))
        ids = (torch.arange(self.seq_len) + start) % n_words + len(SPECIALS)  # (T,)
        mask = torch.ones(self.seq_len, dtype=torch.long)
        if self.family == "gpt":
            return {"input_ids": ids, "attention_mask": mask, "labels": ids.clone()}
        ids[0] = 2  # [CLS]
        chosen = torch.rand(self.seq_len, generator=g) < 0.15
        chosen[0] = False
        chosen[1 + int(torch.randint(self.seq_len - 1, (1,), generator=g))] = True  # at least one
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        inputs = torch.where(chosen, torch.full_like(ids, 4), ids)  # [MASK]
        half = self.seq_len // 2
        token_type_ids = (torch.arange(self.seq_len) >= half).long()
        return {
            "input_ids": inputs, "attention_mask": mask, "token_type_ids": token_type_ids, "labels": labels,
            "next_sentence_label": torch.tensor(index % 2),
        }


class TinyDataModule(LightningDataModule):
    def __init__(
        self, family: str = "gpt", vocab_size: int = 64, seq_len: int = 16, batch_size: int = 4,
        train_size: int = 64, val_size: int = 16, shuffle: bool = True,
    ) -> None:
        super().__init__()
        self.family, self.vocab_size, self.seq_len, self.batch_size = family, vocab_size, seq_len, batch_size
        self.train_size, self.val_size, self.shuffle = train_size, val_size, shuffle
        self.tokenizer = tiny_tokenizer(vocab_size)

    @property
    def tokenizer_vocab_size(self) -> int:
        return len(self.tokenizer)

    def bytes_per_token(self, split: str) -> float:
        return 3.0

    def split_statistics(self, split: str) -> dict[str, int]:
        size = {"train": self.train_size}.get(split, self.val_size)
        return {"documents": size, "words": size * self.seq_len, "bytes": 3 * size * self.seq_len,
                "tokens": size * self.seq_len}

    def _loader(self, size: int, offset: int, shuffle: bool) -> StatefulDataLoader:
        dataset = TinyDataset(self.family, size, self.seq_len, self.vocab_size, offset)
        generator = torch.Generator().manual_seed(0) if shuffle else None  # as pretrain.data does
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1 and not shuffle:
            # An explicit unshuffled split (with Trainer(use_distributed_sampler=False)): rank r gets r, r+2, ...
            sampler = DistributedSampler(dataset, trainer.world_size, trainer.global_rank, shuffle=False)
            return StatefulDataLoader(dataset, batch_size=self.batch_size, sampler=sampler, num_workers=0)
        return StatefulDataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=0,
                                  generator=generator)

    def train_dataloader(self) -> StatefulDataLoader:
        return self._loader(self.train_size, 0, self.shuffle)

    def val_dataloader(self) -> StatefulDataLoader:
        return self._loader(self.val_size, 10_000, False)

    def test_dataloader(self) -> StatefulDataLoader:
        return self._loader(self.val_size, 20_000, False)


class TinyMaskedBlocks(LightningDataModule):
    """GPT blocks with their masked copies (the mixed objectives' data): 30% masked for training, 15% validation."""

    def __init__(self, vocab_size: int = 64) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.tokenizer = tiny_tokenizer(vocab_size)

    def bytes_per_token(self, split: str) -> float:
        return 3.0

    def split_statistics(self, split: str) -> dict[str, int]:
        size = 64 if split == "train" else 8
        return {"documents": size, "words": 16 * size, "bytes": 48 * size, "tokens": 16 * size}

    def _loader(self, size: int, offset: int, rate: float) -> StatefulDataLoader:
        collator = MaskedBlockCollator(tokenizer=self.tokenizer, mlm_probability=rate)
        return StatefulDataLoader(TinyDataset("gpt", size, 16, self.vocab_size, offset), batch_size=4,
                                  collate_fn=collator)

    def train_dataloader(self) -> StatefulDataLoader:
        return self._loader(64, 0, 0.3)

    def val_dataloader(self) -> StatefulDataLoader:
        return self._loader(8, 10_000, 0.15)


def tiny_config(family: str, vocab_size: int = 64, dropout: float = 0.1) -> TransformerConfig:
    if family == "bert":
        return TransformerConfig(
            vocab_size=vocab_size, max_positions=32, d_model=32, n_layers=2, n_heads=4, d_ff=64,
            norm_placement="post", type_vocab_size=2, embedding_norm=True, final_norm=False,
            dropout=dropout, attention_dropout=dropout,
        )
    return TransformerConfig(
        vocab_size=vocab_size, max_positions=32, d_model=32, n_layers=2, n_heads=4, d_ff=64,
        activation="gelu_tanh", dropout=dropout, attention_dropout=dropout,
    )
