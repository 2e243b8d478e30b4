"""The report: typed results from the ledger, rendered as markdown, plots, and W&B summary and report.
"""
