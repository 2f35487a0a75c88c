-- Preference pairs imported from files (TRL's prompt/chosen/rejected form), kept until a preference version
-- is frozen from them, as votes are kept in ratings.
CREATE TABLE imported_preferences (
    project_id BIGINT NOT NULL,
    import_id BIGINT NOT NULL,
    position INTEGER NOT NULL,                   -- order within the import
    prompt VARCHAR NOT NULL,                     -- text, or JSON messages (conversational form)
    chosen VARCHAR NOT NULL,
    rejected VARCHAR NOT NULL,
    conversational BOOLEAN NOT NULL DEFAULT false,
    source VARCHAR NOT NULL,                     -- the file and row: prefs.jsonl#3
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (import_id, position)
);
