-- When an answered call was last put on hold (ms since the Unix epoch): the console recalls
-- a call held longer than the configured time.
ALTER TABLE calls ADD COLUMN held_at_ms BIGINT;
