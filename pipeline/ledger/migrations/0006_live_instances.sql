-- The instances whose lease is live: the one definition of "live" that
-- every claim, takeover, status and the shared quota's share count use.
CREATE VIEW iocpipe_live_instances AS
    SELECT * FROM iocpipe_instances WHERE lease_until > now() AND NOT stopped;
