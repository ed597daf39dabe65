-- Calls from a PBX: the telephone system's own id of the caller's line, so that a restart
-- finds its calls again; the directory entry whose number the caller calls from.
ALTER TABLE calls ADD COLUMN pbx_ref TEXT;
ALTER TABLE calls ADD COLUMN caller_entry BIGINT;
