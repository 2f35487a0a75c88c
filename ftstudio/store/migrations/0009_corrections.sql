-- A reviewer's correction after a blind vote: the accepted example it became, and the rating, pair and
-- system(s) whose answer it corrected (both systems of a pair voted both bad or a tie).
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
