"""BERT's examples kept as spans of the joined documents (NspPairs) read exactly as the materialised examples."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import datasets
import pytest

from pretrain.data import BertDataModule
from pretrain.data.bert_batches import B_ENDS_DOCUMENT, BertExampleBuilder
from pretrain.data.nsp_pairs import SPAN_COLUMNS, NspPairs, pair_ids

WORDS = "alpha beta gamma delta river stone cloud paper light music garden window".split()


def _corpus(tmp_path: Path, documents: int = 60) -> str:
    rng = random.Random(0)
    path = tmp_path / "corpus.jsonl"
    rows = []
    for document in range(documents):
        for _ in range(rng.randint(1, 4)):  # rows of one document follow each other
            sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))).capitalize() + "."
                         for _ in range(rng.randint(1, 5))]
            rows.append(f'{{"text": "{" ".join(sentences)}", "document": {document}}}')
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _materialised(module: BertDataModule, pairs: NspPairs) -> list[dict[str, object]]:
    """The examples as the builder's own call gives them (the streaming path), copy after copy."""
    streams = pairs.streams.with_format(None)
    rows = {"stream": streams["stream"], "sentence_documents": streams["sentence_documents"]}
    examples: list[dict[str, object]] = []
    for copy in range(module._copies("train")):
        builder = BertExampleBuilder(module.max_length, module.seed + 7_919 * copy, module.tokenizer.cls_token_id,
                                     module.tokenizer.sep_token_id, module.nsp)
        out = builder(rows, list(range(len(streams))))
        examples += [{name: out[name][i] for name in out} for i in range(len(out["input_ids"]))]
    return examples


@pytest.mark.parametrize("nsp", [True, False])
def test_pairs_read_as_the_builders_examples_to_the_token(nsp: bool, tmp_path: Path) -> None:
    module = BertDataModule(source=_corpus(tmp_path), vocab_size=300, max_length=32, nsp=nsp, dupe_factor=3,
                            cache_dir=str(tmp_path / "cache"))
    module.setup("fit")
    pairs = module.examples("train")
    assert isinstance(pairs, NspPairs) and len(pairs) > 100
    expected = _materialised(module, pairs)
    read = pairs.__getitems__(range(len(pairs)))
    if not nsp:  # single segments carry no end-of-document flag
        read = [{k: v for k, v in example.items() if k != B_ENDS_DOCUMENT} for example in read]
    assert read == expected
    assert pairs.lengths().tolist() == [len(example["input_ids"]) for example in expected]
    assert pairs[7] == pairs.__getitems__([7])[0] and pairs.select([9, 3])[1] == pairs[3]


def test_pairs_keep_spans_not_tokens_and_share_the_mapped_streams(tmp_path: Path) -> None:
    module = BertDataModule(source=_corpus(tmp_path), vocab_size=300, max_length=32, dupe_factor=2,
                            cache_dir=str(tmp_path / "cache"))
    module.prepare_data()
    module.setup("fit")
    pairs = module.examples("train")
    assert sorted(pairs.spans.column_names) == sorted(SPAN_COLUMNS)  # no token ids written per example
    assert all(file["filename"].endswith(".arrow") for file in pairs.streams.cache_files)  # the prepared file
    before = len(pickle.dumps(pairs))
    first = pairs[0]
    tokens = pairs._columns_and_tokens()[1]
    assert all(not view.flags.owndata for view in tokens), "the stream tokens are views of the mapped file"
    # A DataLoader worker gets the file references, not the views it would otherwise copy.
    assert len(pickle.dumps(pairs)) == before
    assert pickle.loads(pickle.dumps(pairs))[0] == first


def test_pair_ids_single_segment_and_pair() -> None:
    assert pair_ids([5, 6], [7], cls_id=2, sep_id=3) == ([2, 5, 6, 3, 7, 3], [0, 0, 0, 0, 1, 1])
    assert pair_ids([5, 6], [], cls_id=2, sep_id=3) == ([2, 5, 6, 3], [0, 0, 0, 0])


def test_spans_without_their_columns_are_refused() -> None:
    spans = datasets.Dataset.from_dict({"a_start": [0]})
    with pytest.raises(ValueError, match=r"NSP spans lack the columns \['stream_row', 'a_end'"):
        NspPairs(spans, spans, 2, 3)
