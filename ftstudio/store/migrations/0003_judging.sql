-- judgments from 0001 was never written: it is reshaped for the judge, with its prompts and the metrics.
DROP TABLE judgments;
CREATE SEQUENCE judge_prompts_id_seq;
CREATE TABLE judge_prompts (
    id BIGINT PRIMARY KEY DEFAULT nextval('judge_prompts_id_seq'),
    project_id BIGINT NOT NULL,
    mode VARCHAR NOT NULL,                       -- pairwise | single
    version INTEGER NOT NULL,                    -- 1, 2, ... per project and mode; the highest is in use
    system_prompt VARCHAR NOT NULL,
    template VARCHAR NOT NULL,                   -- sandboxed Jinja: input, reference, answer(s), rubric
    rubric VARCHAR NOT NULL,
    digest VARCHAR NOT NULL,                     -- of the three texts, part of every judgment's cache key
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (project_id, mode, version)
);
CREATE SEQUENCE judgment_rows_id_seq;
CREATE TABLE judgments (
    id BIGINT PRIMARY KEY DEFAULT nextval('judgment_rows_id_seq'),
    project_id BIGINT NOT NULL,
    cache_key VARCHAR NOT NULL UNIQUE,           -- judge, mode and the exact messages sent
    judge VARCHAR NOT NULL,                      -- model @ endpoint, or local:model
    mode VARCHAR NOT NULL,                       -- pairwise | single
    prompt_version VARCHAR NOT NULL,             -- built-in, or v<N> of the project's judge prompt
    prompt_digest VARCHAR NOT NULL,
    item_key VARCHAR NOT NULL,
    generation_a BIGINT NOT NULL,                -- pairwise: the review pair's a and b; single: the answer
    generation_b BIGINT,
    shown_first BIGINT NOT NULL,                 -- which generation the judge read as answer A
    status VARCHAR NOT NULL,                     -- ok | invalid (unparseable) | failed (no answer)
    verdict VARCHAR,                             -- pairwise: a | b | tie, in the pair's terms
    score DOUBLE,                                -- single: 1-10
    raw VARCHAR,                                 -- the judge's whole answer
    error VARCHAR,                               -- why it is invalid or failed
    seconds DOUBLE,
    attempts INTEGER NOT NULL DEFAULT 1,
    created_by VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX judgments_generations ON judgments (project_id, generation_a);
CREATE TABLE generation_metrics (
    generation_id BIGINT NOT NULL,               -- outputs never change, so neither do their scores
    metric VARCHAR NOT NULL,                     -- reference_nll, reference_tokens, similarity
    value DOUBLE,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (generation_id, metric)
);
