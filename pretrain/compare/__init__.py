"""The comparison: plan -> pretraining and fine-tuning runs -> statistics -> report."""
