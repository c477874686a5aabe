"""Class names as chart axes show them (the live Pareto, the report's, a dataset's statistics)."""


def class_label(name: str, most: int = 16) -> str:
    """Underscores as spaces, elided with '…' past ``most`` characters, so a cut name looks cut."""
    name = name.replace("_", " ")
    return name if len(name) <= most else name[: most - 1] + "…"
