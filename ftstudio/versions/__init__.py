"""Dataset versions: splits, example versions, preference versions and their export, written by one writer.

Runs train only on a frozen version, so every result traces back to its exact data. Import from here; the
modules are `splits` (train/validation/test), `writer` (the one writer of both kinds), `examples` (accepted
examples), `preferences` (prompt/chosen/rejected pairs) and `export` (files, datasets, the Hub).
"""

from ftstudio.versions.examples import content_hash, freeze_version, planned_counts, resolve_examples
from ftstudio.versions.export import (EXPORT_FORMATS, PREFERENCE_EXPORT_FORMATS, export_preference_version,
                                      export_rows, export_version, messages_for, preference_records, push_version,
                                      to_dataset_dict)
from ftstudio.versions.preferences import (DEFAULT_PLAN, FILE, HUMAN, JUDGE, freeze_preference_rows,
                                           imported_preference_pairs, read_preference_file, same_words,
                                           trained_inputs)
from ftstudio.versions.splits import (NEAR_DUPLICATE_THRESHOLD, SPLITS, SplitPlan, VersionError, assign_splits,
                                      duplicate_groups, parse_split, split_warnings)
from ftstudio.versions.text import TEXT_PLAN, freeze_text_version, text_rows
from ftstudio.versions.writer import EXAMPLES, PREFERENCES, TEXT, get_version, write_version

__all__ = [
    "DEFAULT_PLAN", "EXAMPLES", "EXPORT_FORMATS", "FILE", "HUMAN", "JUDGE", "NEAR_DUPLICATE_THRESHOLD",
    "PREFERENCES", "PREFERENCE_EXPORT_FORMATS", "SPLITS", "SplitPlan", "TEXT", "TEXT_PLAN", "VersionError", "assign_splits",
    "content_hash", "duplicate_groups", "export_preference_version", "export_rows", "export_version",
    "freeze_preference_rows", "freeze_text_version", "freeze_version", "get_version", "imported_preference_pairs", "messages_for",
    "parse_split", "planned_counts", "preference_records", "push_version", "read_preference_file",
    "resolve_examples", "same_words", "split_warnings", "text_rows", "to_dataset_dict", "trained_inputs", "write_version",
]
