-- TAXII cursors (a route's taxii: source): where the next poll of a
-- collection starts, through a route key. cursor is the JSON of a
-- taxii.Cursor ({"added_after": ..., "seen": [...]}), written only once
-- every object before it was acknowledged by the sink.
CREATE TABLE iocpipe_taxii_cursors (
    route_key  text        NOT NULL,
    collection text        NOT NULL,
    cursor     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (route_key, collection)
);
