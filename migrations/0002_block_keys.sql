-- The block access token keys of the active metadata service, so that a
-- metadata service taking over (HA) or restarting goes on signing with keys
-- the datanodes already hold (docs/ha.md). One row; written under the
-- writer epoch.
CREATE TABLE block_keys (
    id    smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    epoch bigint NOT NULL,
    keys  jsonb  NOT NULL
);
