-- A transferred call whose target did not answer comes back on hold: who did not answer,
-- until the call moves on (the console recalls it at once).
ALTER TABLE calls ADD COLUMN unanswered_by BIGINT;
