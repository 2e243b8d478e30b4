"""Training throughput of our BERT and GPT next to Hugging Face's (`python scripts/bench.py`)."""
