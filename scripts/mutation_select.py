"""Which mutants a mutation run measures: annotation filtering and the seeded sample (pure).

Contract:
- ``annotation_spans(source)`` returns the (start, end) positions of every type
  annotation of a module -- function argument annotations (positional-only,
  ordinary, ``*args``, keyword-only, ``**kwargs``), return annotations and the
  annotation of annotated assignments -- as ``((line, col), (line, col))`` with
  1-based lines and 0-based columns counted in characters (cosmic-ray's parso
  positions), not in UTF-8 bytes as ``ast`` counts them. It returns no spans for
  a module without ``from __future__ import annotations``: there annotations are
  evaluated when the definition runs, so a mutant inside one is not equivalent.
- ``inside(start, end, spans)`` is true when the mutated node lies wholly inside
  one span.
- ``choose(keys, n, seed, module)`` is the seeded sample: the keys sorted, then
  ``random.Random(f"{seed}:{module}").sample(keys, n)``; all keys when ``n`` is
  None or at least their number. Same inputs, same sample.
"""

from __future__ import annotations

import ast
import random
from typing import Hashable, Iterable, Sequence

Pos = tuple[int, int]
Span = tuple[Pos, Pos]


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )


def _annotations(tree: ast.AST) -> Iterable[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in (*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg):
                if arg is not None and arg.annotation is not None:
                    yield arg.annotation
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def annotation_spans(source: str) -> list[Span]:
    """Every annotation's span, in characters; none without ``from __future__ import annotations``."""
    tree = ast.parse(source)
    if not _has_future_annotations(tree):
        return []
    lines = source.splitlines(keepends=True)

    def chars(line: int, byte_col: int) -> int:
        return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8"))

    return sorted(
        ((n.lineno, chars(n.lineno, n.col_offset)), (n.end_lineno, chars(n.end_lineno, n.end_col_offset)))
        for n in _annotations(tree)
    )


def inside(start: Pos, end: Pos, spans: Sequence[Span]) -> bool:
    """True when [start, end) lies wholly within one of the spans."""
    return any(s <= tuple(start) and tuple(end) <= e for s, e in spans)


def choose(keys: Iterable[Hashable], n: int | None, seed: int, module: str) -> list:
    """The seeded sample of n keys (all of them when n is None or not smaller), in sorted order."""
    items = sorted(keys)
    if n is None or n >= len(items):
        return items
    return sorted(random.Random(f"{seed}:{module}").sample(items, n))
