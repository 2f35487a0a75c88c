CREATE SEQUENCE users_id_seq;
CREATE TABLE users (
    id BIGINT PRIMARY KEY DEFAULT nextval('users_id_seq'),
    name VARCHAR NOT NULL UNIQUE,
    role VARCHAR NOT NULL DEFAULT 'annotator',   -- admin | annotator | reviewer
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE projects_id_seq;
CREATE TABLE projects (
    id BIGINT PRIMARY KEY DEFAULT nextval('projects_id_seq'),
    name VARCHAR NOT NULL UNIQUE,
    task_type VARCHAR NOT NULL,                  -- generation | classification | structured
    description VARCHAR NOT NULL DEFAULT '',
    labels JSON,                                 -- classification: the label set
    json_schema JSON,                            -- structured: the schema outputs must validate against
    settings JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE imports_id_seq;
CREATE TABLE imports (
    id BIGINT PRIMARY KEY DEFAULT nextval('imports_id_seq'),
    project_id BIGINT NOT NULL,
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    options JSON,                                -- PII masking chosen, column mapping
    sources JSON,                                -- what the user gave
    imported INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    errors JSON                                  -- [{source, reason}]
);
CREATE SEQUENCE items_id_seq;
CREATE TABLE items (
    id BIGINT PRIMARY KEY DEFAULT nextval('items_id_seq'),
    project_id BIGINT NOT NULL,
    import_id BIGINT NOT NULL,
    content_hash VARCHAR NOT NULL,               -- of the normalised text, for dedup
    kind VARCHAR NOT NULL,                       -- post | email | row
    source VARCHAR NOT NULL,
    title VARCHAR,
    author VARCHAR,
    written_at TIMESTAMP,                        -- when the author wrote it (UTC), if known
    text VARCHAR NOT NULL,
    metadata JSON,
    pii_masked BOOLEAN NOT NULL DEFAULT false,
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX items_project_hash ON items (project_id, content_hash);
CREATE SEQUENCE examples_id_seq;
CREATE TABLE examples (
    id BIGINT PRIMARY KEY DEFAULT nextval('examples_id_seq'),
    project_id BIGINT NOT NULL,
    item_id BIGINT,                              -- null for examples imported already paired
    input VARCHAR,
    output VARCHAR,
    label VARCHAR,
    status VARCHAR NOT NULL DEFAULT 'accepted',  -- accepted | skipped | flagged
    origin VARCHAR NOT NULL DEFAULT 'labeled',   -- labeled | paired (imported as pairs) | dataset
    draft JSON,                                  -- model drafts used, and how much they were edited
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE example_history_id_seq;
CREATE TABLE example_history (
    id BIGINT PRIMARY KEY DEFAULT nextval('example_history_id_seq'),
    example_id BIGINT NOT NULL,
    previous JSON NOT NULL,                      -- the example as it was before this change
    changed_by VARCHAR,
    changed_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE leases (
    item_id BIGINT NOT NULL,
    user_name VARCHAR NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE dataset_versions_id_seq;
CREATE TABLE dataset_versions (
    id BIGINT PRIMARY KEY DEFAULT nextval('dataset_versions_id_seq'),
    project_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    template JSON NOT NULL,
    split JSON NOT NULL,                         -- fractions and seed
    counts JSON NOT NULL,
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (project_id, name)
);
CREATE TABLE dataset_rows (
    version_id BIGINT NOT NULL,
    example_id BIGINT NOT NULL,
    split VARCHAR NOT NULL,                      -- train | validation | test
    input VARCHAR,
    output VARCHAR,
    label VARCHAR
);
CREATE SEQUENCE runs_id_seq;
CREATE TABLE runs (
    id BIGINT PRIMARY KEY DEFAULT nextval('runs_id_seq'),
    project_id BIGINT NOT NULL,
    version_id BIGINT,
    name VARCHAR NOT NULL,
    base_model VARCHAR NOT NULL,
    method VARCHAR NOT NULL,                     -- lora | qlora
    config JSON NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'queued',    -- queued | running | cancelled | interrupted | failed | finished
    run_dir VARCHAR NOT NULL,
    pid INTEGER,
    step INTEGER NOT NULL DEFAULT 0,
    max_steps INTEGER,
    train_loss DOUBLE,
    eval_loss DOUBLE,
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE SEQUENCE generations_id_seq;
CREATE TABLE generations (
    id BIGINT PRIMARY KEY DEFAULT nextval('generations_id_seq'),
    project_id BIGINT NOT NULL,
    run_id BIGINT,                               -- null for the base model
    model VARCHAR NOT NULL,
    version_id BIGINT,
    example_id BIGINT,
    prompt VARCHAR NOT NULL,
    output VARCHAR NOT NULL,
    config JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE ratings_id_seq;
CREATE TABLE ratings (
    id BIGINT PRIMARY KEY DEFAULT nextval('ratings_id_seq'),
    generation_a BIGINT NOT NULL,
    generation_b BIGINT NOT NULL,
    shown_left BIGINT NOT NULL,                  -- which generation the rater saw on the left
    winner VARCHAR NOT NULL,                     -- a | b | tie | both_bad
    rater VARCHAR,
    comment VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE judgments_id_seq;
CREATE TABLE judgments (
    id BIGINT PRIMARY KEY DEFAULT nextval('judgments_id_seq'),
    generation_a BIGINT NOT NULL,
    generation_b BIGINT,                         -- null in single-answer grading
    judge VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,                       -- pairwise | single
    verdict VARCHAR,
    score DOUBLE,
    raw JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE audit_id_seq;
CREATE TABLE audit (
    id BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    happened_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    user_name VARCHAR,
    action VARCHAR NOT NULL,
    target VARCHAR,
    details JSON
);
