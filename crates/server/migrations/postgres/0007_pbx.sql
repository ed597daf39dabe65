-- Calls from a PBX: the telephone system's own id of the caller's line, so that a restart
-- finds its calls again; the directory entry whose number the caller calls from. Events that
-- are an operator's command for a PBX integration to carry out (1), not a move (0).
ALTER TABLE calls ADD COLUMN pbx_ref TEXT;
ALTER TABLE calls ADD COLUMN caller_entry BIGINT;
ALTER TABLE call_events ADD COLUMN command BIGINT NOT NULL DEFAULT 0;
