-- An upgrade in progress (metadata -upgrade): the image it keeps for a
-- rollback until finalized. The metadata service also creates it before
-- migrating an older schema, hence IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS upgrade_state (
    id         smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    image_txid bigint      NOT NULL,
    migrations text        NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
