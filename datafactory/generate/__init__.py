"""The generate stage: prompts → sampled traces (stage.py), its options (config.py) and the loop that keeps an
engine's batch full and, with `--target`, stops sampling a prompt once enough of its samples pass (sample_loop.py).
"""
