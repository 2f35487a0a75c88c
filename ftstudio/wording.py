"""Small helpers for messages people read."""


def quoted(value: object) -> str:
    """A name inside a message, in typographic quotes: names hold apostrophes (Maya's posts), which repr() would
    wrap in mismatched quotes."""
    return f"\u201c{value}\u201d"


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 vote', '2 votes' (or the given plural)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"
