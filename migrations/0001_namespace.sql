-- The durable state of the metadata service (docs/formats/).

-- One row: the identity of the formatted namespace and the writer epoch
-- that fences older metadata processes.
CREATE TABLE namespace_info (
    id             smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    cluster_id     text        NOT NULL,
    namespace_id   bigint      NOT NULL,
    block_pool_id  text        NOT NULL,
    layout_version integer     NOT NULL,
    ctime          bigint      NOT NULL,
    formatted_at   timestamptz NOT NULL DEFAULT now(),
    writer_epoch   bigint      NOT NULL DEFAULT 0
);

-- One row per transaction: dense txids, the epoch of the writer that logged
-- it, HDFS's op code, a versioned binary payload and a CRC32C over
-- (txid, op, payload).
CREATE TABLE edit_log (
    txid    bigint   PRIMARY KEY,
    epoch   bigint   NOT NULL,
    op      smallint NOT NULL,
    payload bytea    NOT NULL,
    crc     integer  NOT NULL
);

-- A checkpoint of the whole namespace at txid, stored in chunks. sha256 is
-- over the concatenated chunks; each chunk also carries its own CRC32C.
CREATE TABLE fsimage (
    txid       bigint      PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    size       bigint      NOT NULL,
    inodes     bigint      NOT NULL,
    chunks     integer     NOT NULL,
    sha256     bytea       NOT NULL
);

CREATE TABLE fsimage_chunk (
    txid bigint  NOT NULL REFERENCES fsimage (txid) ON DELETE CASCADE,
    seq  integer NOT NULL,
    crc  integer NOT NULL,
    data bytea   NOT NULL,
    PRIMARY KEY (txid, seq)
);
