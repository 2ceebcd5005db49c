-- Tokens are bound to the SK they were issued under: a fingerprint of that SK is kept with
-- the token, and a token whose credential's SK changed (rotate, re-create) or was revoked
-- stops working. Tokens issued before this migration have no fingerprint and must be
-- requested again.
ALTER TABLE tokens ADD COLUMN secret_fingerprint TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_by_access_key ON tokens (access_key);

-- What a running job last reported (step, percent), shown while an asset is processed.
ALTER TABLE jobs ADD COLUMN progress TEXT;
