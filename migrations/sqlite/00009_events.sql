-- +goose Up
-- The outbox; see the PostgreSQL migration for the model. created_at is indexed as the
-- fixed-width text the queries compare (see the store's dialect).
-- An event is written in the same transaction as the change it tells of, so
-- a committed change always has its event and a rolled-back one never does; payload is
-- the body as delivered. stream_pending marks an event still to be published to the
-- event stream (EVENTS_NATS_URL). Events are written only for accounts with a
-- subscribed endpoint (or a stream), and purged after WEBHOOK_RETENTION.
CREATE TABLE events (
    account_id     text        NOT NULL REFERENCES accounts (account_id),
    id             text        NOT NULL,
    type           text        NOT NULL,
    subaccount_id  text,
    payload        text        NOT NULL,
    stream_pending boolean     NOT NULL DEFAULT false,
    created_at     datetime    NOT NULL,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX events_stream_pending_idx ON events (strftime('%Y-%m-%dT%H:%M:%f', created_at), id) WHERE stream_pending;
CREATE INDEX events_created_idx ON events (strftime('%Y-%m-%dT%H:%M:%f', created_at));

-- One event on its way to one endpoint. Due and lease times are Unix milliseconds, which
-- compare alike on both databases. A worker claims a due delivery by setting claimed_by
-- and claimed_until (its lease); a lease that runs out (a crashed replica) makes the
-- delivery claimable again, and the same webhook-id is sent once more.
CREATE TABLE webhook_deliveries (
    account_id       text        NOT NULL,
    id               text        NOT NULL,
    endpoint_id      text        NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    next_attempt_ms  integer,
    claimed_by       text,
    claimed_until_ms integer,
    created_at       datetime    NOT NULL,
    updated_at       datetime    NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, endpoint_id) REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, event_id) REFERENCES events (account_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (account_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (account_id, event_id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (strftime('%Y-%m-%dT%H:%M:%f', created_at));

-- Every attempt of a delivery: status 0 is no answer (error says why); response_body
-- is the first KiB of the answer, card numbers masked.
CREATE TABLE webhook_attempts (
    account_id    text        NOT NULL,
    delivery_id   text        NOT NULL,
    n             integer     NOT NULL,
    attempted_at  datetime    NOT NULL,
    status_code   integer     NOT NULL,
    latency_ms    integer     NOT NULL,
    error         text        NOT NULL,
    response_body text        NOT NULL,
    PRIMARY KEY (account_id, delivery_id, n),
    FOREIGN KEY (account_id, delivery_id) REFERENCES webhook_deliveries (account_id, id) ON DELETE CASCADE
);

-- When an endpoint's deliveries began to fail without a success since (auto-disable
-- after five days).
ALTER TABLE webhook_endpoints ADD COLUMN failing_since datetime;

-- +goose Down
ALTER TABLE webhook_endpoints DROP COLUMN failing_since;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE events;
