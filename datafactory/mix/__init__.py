"""Reasoning:general SFT mixes (see stage.py)."""
