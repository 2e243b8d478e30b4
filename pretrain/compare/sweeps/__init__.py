"""Hyperparameter sweeps: a sweep's grid and the command that runs it.
"""
