-- The ledger: one row per content (hex SHA-256) per route key
-- (route/sink, see ledger.Key); entry is the ledger.Entry's JSON, the
-- same stored form as the bbolt ledger's values.
CREATE TABLE iocpipe_ledger (
    route_key   text        NOT NULL,
    content_sum text        NOT NULL,
    entry       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (route_key, content_sum)
);
