-- Job lanes: slow jobs (video transcodes, decks) wait in the 'heavy' lane, which workers
-- only take while they keep capacity for the 'light' lane (images, audio, timers,
-- webhooks), so a burst of slow jobs cannot starve quick ones.
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'light';
CREATE INDEX jobs_ready_lane ON jobs (state, lane, run_after);
