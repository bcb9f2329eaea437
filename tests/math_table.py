"""Shared by the table-driven math verifier tests: each case records math-verify's own verdict beside ours in its
test id, and the test checks that record against a live math-verify run, so the difference stays visible."""

import functools

import pytest


@functools.cache
def verifier(**options):
    from datafactory.verifiers.math import MathVerifier

    return MathVerifier(options)


def plain_math_verify(gold: str, response: str) -> str:
    """What math-verify alone says, used the way its README shows: gold in $…$, the whole response parsed."""
    from math_verify import parse, verify

    return "pass" if verify(parse(f"${gold}$"), parse(response)) else "fail"


def cases(table):
    """Rows (name, gold, response, ours, math_verify) as pytest params with both verdicts in the id."""
    return [
        pytest.param(gold, response, ours, theirs, id=f"{name} [math-verify {theirs}, ours {ours}]")
        for name, gold, response, ours, theirs in table
    ]


def check(gold, response, ours, theirs, **options):
    assert plain_math_verify(gold, response) == theirs, "math-verify's recorded behaviour changed"
    verdict = verifier(**options).verify(response, gold, {})
    assert (verdict.reason or "pass") == ours, (verdict, response)
