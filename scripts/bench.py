"""Training throughput of our BERT and GPT next to Hugging Face's, same config, same process, interleaved.

    python scripts/bench.py                      # CPU fp32, the standard config (bert-mini / gpt-mini shape)
    python scripts/bench.py --cpu-bf16           # the same with bf16 autocast on the CPU
    python scripts/bench.py --json bench.json    # also write the rows
    python scripts/bench.py --help               # every option (pretrain/bench/command.py)
"""

from __future__ import annotations

from pretrain.bench.command import main

if __name__ == "__main__":
    main()
