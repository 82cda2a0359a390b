-- Dedup across runs (route key dedup_window): the hashes of the
-- indicators delivered through a route key, by the hour they were
-- delivered in (Unix hours), so that expiry deletes whole hours. hash is
-- the pipeline's stable 64-bit hash of submission key, type and value.
CREATE TABLE iocpipe_delivered (
    route_key text   NOT NULL,
    hour      bigint NOT NULL,
    hash      bigint NOT NULL,
    PRIMARY KEY (route_key, hour, hash)
);
