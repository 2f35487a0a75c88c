-- Which inputs a review's answers came from: 'train' marks a review whose votes make preference data (the
-- run trained on those prompts), so it is never mistaken for the review that grades the run. NULL: the
-- test or validation split, or typed prompts. generated_at: when answers were last generated for it, so
-- the Review tab puts the answers generated last before reviewers.
ALTER TABLE reviews ADD COLUMN split VARCHAR;
ALTER TABLE reviews ADD COLUMN generated_at TIMESTAMP;
