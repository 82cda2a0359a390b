-- Claims with leases (several instances on one inbox). An instance is
-- one running iocpipe watch: its lease is renewed while it lives, and a
-- claim is live while the lease of the instance holding it is: one row
-- renewed per instance, whatever the number of files it holds. A claim
-- is one content (hex SHA-256) per route key, held by one instance,
-- under the name it has in work/.
CREATE TABLE iocpipe_instances (
    id          text        PRIMARY KEY,
    host        text        NOT NULL,
    pid         integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    stopped     boolean     NOT NULL DEFAULT false
);
CREATE TABLE iocpipe_claims (
    route_key   text        NOT NULL,
    content_sum text        NOT NULL,
    name        text        NOT NULL,
    instance    text        NOT NULL,
    claimed_at  timestamptz NOT NULL,
    PRIMARY KEY (route_key, content_sum)
);
CREATE INDEX iocpipe_claims_instance ON iocpipe_claims (instance);
CREATE INDEX iocpipe_claims_name ON iocpipe_claims (route_key, name);
