"""BERT-vs-GPT pretraining suite."""
