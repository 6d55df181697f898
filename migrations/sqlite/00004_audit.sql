-- +goose Up
-- Mirrors migrations/postgres/00004_audit.sql; see there for the why. uuid is text,
-- timestamps are datetime (RFC 3339 text).

CREATE TABLE audit_events (
    account_id      text     NOT NULL,
    seq             integer  NOT NULL CHECK (seq >= 1),
    id              text     NOT NULL,
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
    prev_hash       text     NOT NULL,
    hash            text     NOT NULL,
    PRIMARY KEY (account_id, seq),
    CONSTRAINT audit_events_id_key UNIQUE (account_id, id)
);
-- Time windows compare the fixed-width form of created_at (see 00002_cards.sql).
CREATE INDEX audit_events_created_idx ON audit_events (account_id, strftime('%Y-%m-%dT%H:%M:%f', created_at));
CREATE INDEX audit_events_resource_idx ON audit_events (account_id, resource_type, resource_id, seq);

CREATE TABLE audit_heads (
    account_id text    PRIMARY KEY,
    seq        integer NOT NULL CHECK (seq >= 0),
    hash       text    NOT NULL
);

-- The embedded database is a file its owner can edit at will; these triggers only stop
-- the service itself from rewriting history by mistake. The hash chain detects the rest.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
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
