"""Verifiers decide whether a response's answer is correct; see base.py for the interface and registry."""
