"""Words for people: counts with their noun."""
from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``plural(1, "image")`` -> "1 image", ``plural(3, "box")`` -> "3 boxes"."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {nouns or (noun + 'es' if noun.endswith(('s', 'x', 'sh', 'ch')) else noun + 's')}"
