-- A version holds either examples (dataset_rows) or preference pairs (preference_rows), never both.
ALTER TABLE dataset_versions ADD COLUMN kind VARCHAR DEFAULT 'examples';  -- examples | preferences
CREATE TABLE preference_rows (
    version_id BIGINT NOT NULL,
    position INTEGER NOT NULL,                   -- order within the version
    split VARCHAR NOT NULL,                      -- train | validation | test
    input VARCHAR,                               -- the item's input, when the pair came from a review
    prompt VARCHAR NOT NULL,                     -- text, or JSON messages (conversational form)
    chosen VARCHAR NOT NULL,
    rejected VARCHAR NOT NULL,
    conversational BOOLEAN NOT NULL DEFAULT false,
    source VARCHAR NOT NULL,                     -- human | judge | file
    detail JSON,                                 -- review, pair, generations, votes or judge, file name
    PRIMARY KEY (version_id, position)
);
