"""Running a plan: the pipeline's stages, each run's arguments, the pool that runs them side by side, each run's
identity and folders, and the ledger that makes a re-run resume.
"""
