"""The benchmark (pretrain/bench, `python scripts/bench.py`) runs end to end on tiny presets and writes its rows
(no timing is asserted), and times like against like: our loss equals Hugging Face's on the same batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pretrain.bench.command import main
from pretrain.bench.training import _hf_loss, _ours_bert_loss, _ours_gpt_loss, random_batch
from pretrain.blocks.config import TransformerConfig
from pretrain.hf import to_hf
from pretrain.models import BertModel, GptModel

ROOT = Path(__file__).parents[1]
TINY = {"bert": ROOT / "configs/model/bert-tiny.yaml", "gpt": ROOT / "configs/model/gpt-tiny.yaml"}


def test_bench_writes_a_row_per_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    main([
        "--bert-config", str(TINY["bert"]), "--gpt-config", str(TINY["gpt"]), "--seq-len", "16", "--batch-size", "2",
        "--rounds", "2", "--warmup", "1", "--device", "cpu", "--json", str(out),
    ])
    payload = json.loads(out.read_text())
    rows = payload["rows"]
    assert [(r["family"], r["implementation"]) for r in rows] == [("bert", "ours"), ("bert", "hf"),
                                                                  ("gpt", "ours"), ("gpt", "hf")]
    assert all(r["tokens_per_s"] > 0 and r["memory_mib"] > 0 for r in rows)
    assert all(len(r["tokens_per_s_rounds"]) == 2 and r["mfu"] is None for r in rows)  # no peak FLOPs on a CPU
    assert rows[0]["ratio_ours_over_hf"] > 0 and rows[1]["ratio_ours_over_hf"] is None
    assert payload["args"]["seq_len"] == "16" and payload["args"]["families"] == "['bert', 'gpt']"
    assert "ours/HF" in capsys.readouterr().out


def test_bench_rejects_a_sequence_longer_than_the_preset() -> None:
    with pytest.raises(ValueError, match="--seq-len 999 exceeds max_positions=128"):
        main(["--gpt-config", str(TINY["gpt"]), "--families", "gpt", "--seq-len", "999", "--device", "cpu"])


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_our_loss_equals_hugging_faces_on_the_benchmark_batch(family: str) -> None:
    config = TransformerConfig.from_yaml(TINY[family])
    torch.manual_seed(0)
    ours = (BertModel if family == "bert" else GptModel)(config).eval()
    theirs = to_hf(ours).eval()
    batch = random_batch(family, config, 2, 16, torch.device("cpu"), torch.Generator().manual_seed(0))
    ours_loss = (_ours_bert_loss if family == "bert" else _ours_gpt_loss)(ours, batch)
    torch.testing.assert_close(ours_loss, _hf_loss(theirs, batch), rtol=1e-5, atol=1e-5)


def test_preparation_bench_times_the_tokenizer_and_each_family_in_its_own_process(tmp_path: Path) -> None:
    from pretrain.bench.preparation import preparation_cost, repeated_corpus

    article = " = Title {} = \n" + " ".join(f"word{i} and more text here ." for i in range(60)) + "\n"
    text = tmp_path / "wiki.raw"
    text.write_text("".join(article.format(n) for n in range(40)))
    corpus = repeated_corpus(text, 3, tmp_path)
    assert corpus.suffix == ".raw" and corpus.read_text() == text.read_text() * 3
    cost = preparation_cost(text, 2, ["bert", "gpt"], vocab_size=256, max_length=64, dupe_factor=2)
    assert cost["corpus_mib"] == pytest.approx(2 * text.stat().st_size / 2**20)
    for step in ("tokenizer", "bert", "gpt"):
        assert cost[step]["seconds"] > 0 and cost[step]["peak_rss_mib"] > 50
        assert cost[step]["cache_mib"] > 0  # each step wrote its own files: the tokenizer, the pairs, the stream


def test_preparation_bench_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--prepare .*missing.raw: no such file"):
        main(["--prepare", str(tmp_path / "missing.raw")])
