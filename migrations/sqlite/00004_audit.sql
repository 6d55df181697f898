-- +goose Up
-- Mirrors migrations/postgres/00004_audit.sql; see there for the why. uuid is text,
-- timestamps are datetime (RFC 3339 text).

CREATE TABLE audit_events (
    account_id      text     NOT NULL,
    id              text     NOT NULL,
    seq             integer  CHECK (seq >= 1),
    actor_sub       text     NOT NULL,
    actor_client_id text     NOT NULL,
    action          text     NOT NULL,
    resource_type   text     NOT NULL,
    resource_id     text     NOT NULL,
    before          text,
    after           text,
    reference       text     NOT NULL,
    request_id      text     NOT NULL,
    created_at      datetime NOT NULL,
    prev_hash       text,
    hash            text,
    PRIMARY KEY (account_id, id),
    CONSTRAINT audit_events_chained_whole CHECK (
        (seq IS NULL) = (hash IS NULL) AND (prev_hash IS NULL) = (hash IS NULL)
    )
);
CREATE UNIQUE INDEX audit_events_seq_key ON audit_events (account_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_events_unchained_idx ON audit_events (account_id, id) WHERE hash IS NULL;
-- Time windows compare the fixed-width form of created_at (see 00002_cards.sql).
CREATE INDEX audit_events_created_idx ON audit_events (account_id, strftime('%Y-%m-%dT%H:%M:%f', created_at));
CREATE INDEX audit_events_resource_idx ON audit_events (account_id, resource_type, resource_id, id);

CREATE TABLE audit_heads (
    account_id text    PRIMARY KEY,
    seq        integer NOT NULL CHECK (seq >= 0),
    hash       text    NOT NULL
);

-- The embedded database is a file its owner can edit at will; these triggers only stop
-- the service itself from rewriting history by mistake. The hash chain detects the rest.
-- The one UPDATE allowed is the chaining one: it fills in seq, prev_hash and hash of an
-- unchained event and changes nothing else (IS NOT is null-safe in SQLite).
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (
    OLD.hash IS NULL AND OLD.seq IS NULL AND OLD.prev_hash IS NULL
    AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
    AND NEW.account_id IS OLD.account_id
    AND NEW.id IS OLD.id
    AND NEW.actor_sub IS OLD.actor_sub
    AND NEW.actor_client_id IS OLD.actor_client_id
    AND NEW.action IS OLD.action
    AND NEW.resource_type IS OLD.resource_type
    AND NEW.resource_id IS OLD.resource_id
    AND NEW.before IS OLD.before
    AND NEW.after IS OLD.after
    AND NEW.reference IS OLD.reference
    AND NEW.request_id IS OLD.request_id
    AND NEW.created_at IS OLD.created_at
)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_heads;
DROP TABLE audit_events;
