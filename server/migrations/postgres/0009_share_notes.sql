-- The note of the device that sealed a grant's share last (`ShareNotify::note`): keyed
-- digests, opaque to the server, that let the person's other devices see the share is current.
ALTER TABLE grants ADD COLUMN share_note TEXT;
