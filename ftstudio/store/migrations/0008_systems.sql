-- Systems a review can compare beyond the base model and runs: models behind an OpenAI-compatible endpoint,
-- with their prices (the API key is never stored here: see remote.api_key). Each answer records its latency
-- and tokens, for costs beside quality (the prompt sent is stored already, in generations.prompt). A
-- teacher system's drafts for a project's items wait in teacher_drafts for an expert's acceptance.
CREATE TABLE systems (
    name VARCHAR PRIMARY KEY,
    url VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    price_input_usd_per_m DOUBLE,                -- USD per million input tokens (NULL: unknown)
    price_output_usd_per_m DOUBLE,
    created TIMESTAMP NOT NULL DEFAULT current_timestamp
);
ALTER TABLE generations ADD COLUMN latency_ms DOUBLE;
ALTER TABLE generations ADD COLUMN input_tokens INTEGER;
ALTER TABLE generations ADD COLUMN output_tokens INTEGER;
CREATE TABLE teacher_drafts (
    cache_key VARCHAR PRIMARY KEY,               -- system, model and prompt: a rerun asks nothing again
    project_id BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    system VARCHAR NOT NULL,
    input VARCHAR NOT NULL,
    output VARCHAR NOT NULL,
    latency_ms DOUBLE,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd DOUBLE,
    accepted_example BIGINT,                     -- the example it became, with --accept
    created TIMESTAMP NOT NULL DEFAULT current_timestamp
);
