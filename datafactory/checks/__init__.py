"""What makes a sample pass, shared by `filter` and adaptive `generate --target`: the check options (options.py),
one row's evaluation (evaluate.py), the worker pool that runs it (pool.py), gold votes (gold_votes.py) and pass
rates with their intervals (pass_rates.py). Below every stage, so neither stage imports the other.
"""
