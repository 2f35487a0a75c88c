"""Small helpers for messages people read."""


def quoted(value: object) -> str:
    """A name inside a message, in typographic quotes: names hold apostrophes (Maya's posts), which repr() would
    wrap in mismatched quotes."""
    return f"\u201c{value}\u201d"
