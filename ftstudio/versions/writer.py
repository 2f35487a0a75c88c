"""The one writer of versions, examples and preference pairs alike: the same content frozen again returns the
existing version, a version without a name gets the next free v1, v2, ..., and nothing written ever changes."""

from __future__ import annotations

from ftstudio.store import Project, Store, Version
from ftstudio.versions.splits import VersionError
from ftstudio.wording import quoted

EXAMPLES, PREFERENCES, TEXT = "examples", "preferences", "text"


def write_version(store: Store, project: Project, kind: str, content_hash: str, rows: list[dict], *,
                  template: dict, split: dict, counts: dict, name: str | None = None,
                  user_name: str | None = None) -> Version:
    """Freeze `rows` (each with its split) as a version of `kind`; unchanged content returns the existing one."""
    if kind not in (EXAMPLES, PREFERENCES, TEXT):
        raise VersionError(f"A version holds {EXAMPLES}, {PREFERENCES} or {TEXT}, not {kind!r}.")
    existing = store.find_version_by_hash(project.id, content_hash)
    if existing is not None:
        return existing
    name = (name or "").strip() or f"v{len(store.list_versions(project.id)) + 1}"
    store.create_version(project.id, name, content_hash, template, split, counts, rows, user_name, kind=kind)
    return store.find_version(project.id, name)


def get_version(store: Store, project: Project, name: str) -> Version:
    """The project's version called `name`, or a VersionError that lists the versions there are."""
    version = store.find_version(project.id, name)
    if version is None:
        names = ", ".join(v.name for v in store.list_versions(project.id)) or "none yet"
        raise VersionError(f"{quoted(project.name)} has no version {quoted(name)} (versions: {names}).")
    return version
