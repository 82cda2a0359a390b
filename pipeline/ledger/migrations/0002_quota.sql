-- The shared API quota (sinks/quota): one token bucket per credential,
-- which every instance draws its calls from. bucket is the hex SHA-256
-- of the sink's URL and client id (never the secret); tokens are the
-- calls left at refilled_at; no call is granted before paused_until (a
-- 429's wait), and tokens do not refill before it; granted says whether
-- the last take got a call, calls counts those granted.
CREATE TABLE iocpipe_quota (
    bucket       text             PRIMARY KEY,
    tokens       double precision NOT NULL,
    refilled_at  timestamptz      NOT NULL,
    paused_until timestamptz      NOT NULL,
    granted      boolean          NOT NULL,
    calls        bigint           NOT NULL
);
