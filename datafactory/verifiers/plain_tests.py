"""Rewrite a task's tests so that what they compare must be plain values (run by the harness in the sandbox).

Why: a program can return an object whose `__eq__` always says True, or whose truth is always True, and pass
every `assert candidate(x) == y` without computing anything. The operands of every comparison are wrapped in
`__df_plain__(...)` and the subject of every assert that is not a comparison in `__df_truth__(...)`; the harness
defines both (harness.py), accepting only values built of standard types it captured before the program ran.
"""

from __future__ import annotations

import ast
import warnings


class PlainOperands(ast.NodeTransformer):
    """Wrap the operands of every comparison in `__df_plain__(...)` and the subject of every assert that is no
    comparison in `__df_truth__(...)`."""

    @staticmethod
    def _wrap(node, helper="__df_plain__"):
        return ast.copy_location(ast.Call(ast.Name(helper, ast.Load()), [node], []), node)

    def visit_Compare(self, node):
        self.generic_visit(node)
        if all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            return node
        node.left = self._wrap(node.left)
        node.comparators = [self._wrap(c) for c in node.comparators]
        return node

    def visit_Assert(self, node):
        self.generic_visit(node)
        node.test = self._subject(node.test)
        return node

    def _subject(self, node):
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node.operand = self._subject(node.operand)
            return node
        if isinstance(node, ast.BoolOp):
            node.values = [self._subject(v) for v in node.values]
            return node
        if isinstance(node, ast.Compare):
            return node
        return self._wrap(node, "__df_truth__")


def rewrite(source: str) -> str:
    """`source` with its comparisons and asserts wrapped; raises SyntaxError as compile() would."""
    return ast.unparse(PlainOperands().visit(_parse(source)))  # unparse needs no line numbers


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules `source` imports (the harness loads and guards them before the program)."""
    names = set()
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names


def _parse(source: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the program's own invalid escapes are not our business
        return ast.parse(source)
