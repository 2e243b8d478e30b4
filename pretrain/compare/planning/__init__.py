"""What a comparison will run, checked before anything trains: the plan, its data sets and sources, the cores it
runs on, and its cost estimate.
"""
