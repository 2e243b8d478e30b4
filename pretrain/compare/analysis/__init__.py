"""From runs to conclusions: metric specs, trivial baselines and classical references, learning-rate selection, seed
statistics, the paired bootstrap and the verdict rule.
"""
