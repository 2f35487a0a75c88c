"""The studio database: the only package that imports duckdb.

One module per area (connection and migrations, projects, items and imports, labeling, versions, runs,
review, judging), each a set of queries that `Store` combines; rows come back as dataclasses.
"""

from __future__ import annotations

from pathlib import Path

from ftstudio.store.connection import AuditEntry, Connection, StoreBusyError, StoreError, write_app_marker
from ftstudio.store.corrections import Correction, CorrectionQueries, NewItem
from ftstudio.store.items import ENGAGEMENT_FIELDS, ITEM_ARROW_SCHEMA, ITEM_COLUMNS, ITEM_SORTS, ImportRecord, Item, ItemPage, ItemQueries, ItemSummary
from ftstudio.store.judging import JUDGMENT_STATUSES, JudgePromptRow, Judgment, JudgingQueries
from ftstudio.store.labeling import Example, HistoryEntry, LabelingQueries
from ftstudio.store.migrations import MIGRATIONS
from ftstudio.store.projects import TASK_TYPES, Project, ProjectQueries, clean_labels
from ftstudio.store.review import Assignment, Generation, Rating, Review, ReviewPair, ReviewQueries, WINNERS
from ftstudio.store.runs import RUN_FIELDS, Run, RunQueries
from ftstudio.store.systems import RegisteredSystem, SystemQueries, TeacherDraft
from ftstudio.store.versions import PreferenceRow, Version, VersionQueries, VersionRow


class Store(Connection, ProjectQueries, ItemQueries, LabelingQueries, VersionQueries, RunQueries, ReviewQueries,
            JudgingQueries, SystemQueries, CorrectionQueries):
    """The studio's DuckDB database: one connection, every area's queries."""


def open_store(path: Path | str) -> Store:
    """Open (creating and migrating if needed) the studio database at `path`."""
    return Store(path)


__all__ = [
    "AuditEntry", "Assignment", "Correction", "NewItem", "ENGAGEMENT_FIELDS", "ITEM_SORTS", "Example", "Generation", "HistoryEntry", "ITEM_ARROW_SCHEMA", "ITEM_COLUMNS",
    "ImportRecord", "Item", "JUDGMENT_STATUSES", "JudgePromptRow", "Judgment", "ItemPage", "ItemSummary", "MIGRATIONS", "PreferenceRow", "Project", "RUN_FIELDS", "Rating", "Review",
    "ReviewPair", "Run", "Store", "StoreBusyError", "StoreError", "TASK_TYPES", "Version", "VersionRow", "WINNERS",
    "clean_labels", "open_store", "write_app_marker", "RegisteredSystem", "TeacherDraft",
]
