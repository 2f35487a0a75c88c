"""The schema, as append-only named migrations: never edit or reorder one that has shipped; add a new one."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
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
        """,
    ),
    (
        "0002_review",
        # generations and ratings from 0001 were never written: they are reshaped here for side-by-side review.
        """
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
        """,
    ),
    (
        "0003_judging",
        # judgments from 0001 was never written: it is reshaped for the judge, with its prompts and the metrics.
        """
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
        """,
    ),
    (
        "0004_preferences",
        # A version holds either examples (dataset_rows) or preference pairs (preference_rows), never both.
        """
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
        """,
    ),
    (
        "0005_drop_users_table",
        # Nothing ever read or wrote it: people and roles live in the users file (ftstudio.access.UserBook).
        """
        DROP TABLE users;
        DROP SEQUENCE users_id_seq;
        """,
    ),
    (
        "0006_imported_preferences",
        # Preference pairs imported from files (TRL's prompt/chosen/rejected form), kept until a preference version
        # is frozen from them, as votes are kept in ratings.
        """
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
        """,
    ),
    (
        "0007_review_split",
        # Which inputs a review's answers came from: 'train' marks a review whose votes make preference data (the
        # run trained on those prompts), so it is never mistaken for the review that grades the run. NULL: the
        # test or validation split, or typed prompts. generated_at: when answers were last generated for it, so
        # the Review tab puts the answers generated last before reviewers.
        """
        ALTER TABLE reviews ADD COLUMN split VARCHAR;
        ALTER TABLE reviews ADD COLUMN generated_at TIMESTAMP;
        """,
    ),
    (
        "0008_systems",
        # Systems a review can compare beyond the base model and runs: models behind an OpenAI-compatible endpoint,
        # with their prices (the API key is never stored here: see remote.api_key). Each answer records its latency
        # and tokens, for costs beside quality (the prompt sent is stored already, in generations.prompt). A
        # teacher system's drafts for a project's items wait in teacher_drafts for an expert's acceptance.
        """
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
        """,
    ),
    (
        "0009_corrections",
        # A reviewer's correction after a blind vote: the accepted example it became, and the rating, pair and
        # system(s) whose answer it corrected (both systems of a pair voted both bad or a tie).
        """
        CREATE SEQUENCE corrections_id_seq;
        CREATE TABLE corrections (
            id BIGINT PRIMARY KEY DEFAULT nextval('corrections_id_seq'),
            project_id BIGINT NOT NULL,
            example_id BIGINT NOT NULL,
            review_id BIGINT NOT NULL,
            pair_id BIGINT NOT NULL,
            rating_id BIGINT NOT NULL,
            generation_id BIGINT,                        -- the answer edited; NULL: written anew (both bad)
            systems JSON NOT NULL,                       -- the systems whose answers needed it
            corrected_by VARCHAR,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        """,
    ),
]
