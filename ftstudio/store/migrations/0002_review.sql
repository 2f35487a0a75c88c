-- generations and ratings from 0001 were never written: they are reshaped here for side-by-side review.
DROP TABLE generations;
DROP TABLE ratings;
CREATE SEQUENCE generation_rows_id_seq;
CREATE TABLE generations (
    id BIGINT PRIMARY KEY DEFAULT nextval('generation_rows_id_seq'),
    project_id BIGINT NOT NULL,
    cache_key VARCHAR NOT NULL UNIQUE,           -- system, model, adapter, prompt and decoding settings
    settings_key VARCHAR NOT NULL,               -- the decoding settings alone, shared by a batch
    item_key VARCHAR NOT NULL,                   -- which input it answers: example:<id> or prompt:<hash>
    system VARCHAR NOT NULL,                     -- base | run-<id> | reference
    run_id BIGINT,                               -- the adapter's run, for tuned systems
    version_id BIGINT,
    example_id BIGINT,
    input VARCHAR NOT NULL,                      -- what a reviewer reads
    reference VARCHAR,                           -- the data's own output, when there is one
    prompt VARCHAR NOT NULL,                     -- exactly what the model was given
    output VARCHAR NOT NULL,
    settings JSON NOT NULL,                      -- decoding settings and model, recorded with every output
    metadata JSON,                               -- label and item fields, for breakdowns
    seconds DOUBLE,
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX generations_item ON generations (project_id, settings_key, item_key);
CREATE SEQUENCE reviews_id_seq;
CREATE TABLE reviews (
    id BIGINT PRIMARY KEY DEFAULT nextval('reviews_id_seq'),
    project_id BIGINT NOT NULL,
    run_id BIGINT,                               -- the run under review
    systems JSON NOT NULL,                       -- the systems compared, in display order
    settings_key VARCHAR NOT NULL,               -- whose generations it compares
    overlap INTEGER NOT NULL DEFAULT 1,          -- reviewers wanted per pair
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE review_pairs_id_seq;
CREATE TABLE review_pairs (
    id BIGINT PRIMARY KEY DEFAULT nextval('review_pairs_id_seq'),
    review_id BIGINT NOT NULL,
    item_key VARCHAR NOT NULL,
    generation_a BIGINT NOT NULL,                -- a and b in the review's system order, never the sides shown
    generation_b BIGINT NOT NULL,
    position DOUBLE NOT NULL,                    -- queue order, shuffled when the pair is added
    UNIQUE (review_id, generation_a, generation_b)
);
CREATE TABLE review_assignments (
    token VARCHAR PRIMARY KEY,                   -- the only thing the browser gets for an unrated pair
    pair_id BIGINT NOT NULL,
    reviewer VARCHAR NOT NULL,
    left_generation BIGINT NOT NULL,             -- which answer this reviewer sees as A
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE ratings_rows_id_seq;
CREATE TABLE ratings (
    id BIGINT PRIMARY KEY DEFAULT nextval('ratings_rows_id_seq'),
    review_id BIGINT NOT NULL,
    pair_id BIGINT NOT NULL,
    generation_a BIGINT NOT NULL,
    generation_b BIGINT NOT NULL,
    shown_left BIGINT NOT NULL,                  -- which generation the reviewer saw as A
    winner VARCHAR NOT NULL,                     -- a | b | tie | both_bad, of the pair (not of the sides)
    score_a SMALLINT,                            -- optional 1-5 per answer
    score_b SMALLINT,
    comment VARCHAR,
    rater VARCHAR NOT NULL,
    seconds DOUBLE,                              -- time from showing the pair to the vote
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (pair_id, rater)
);
ALTER TABLE runs ADD COLUMN error VARCHAR;
