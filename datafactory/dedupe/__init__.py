"""Exact, near-duplicate (MinHash LSH) and benchmark-contamination removal."""
