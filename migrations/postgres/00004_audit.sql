-- +goose Up
-- The tamper-evident audit log. Each account's events form a hash chain: an event's hash
-- covers the previous event's hash and a canonical form of the event itself, so changing,
-- removing or reordering any event breaks every link after it. audit_heads holds the
-- newest link of each chain; appending locks that row, which serialises one account's
-- appends and hands out seq without gaps.
--
-- No foreign key to accounts: the log must outlive and never block anything it records,
-- and it is written last in a transaction, so a foreign key check would only add a lock.
-- before and after are JSON documents kept as text, byte for byte as they were hashed
-- (jsonb would normalise them).

CREATE TABLE audit_events (
    account_id      uuid        NOT NULL,
    seq             bigint      NOT NULL CHECK (seq >= 1),
    id              uuid        NOT NULL,
    actor_sub       text        NOT NULL,
    actor_client_id text        NOT NULL,
    action          text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text        NOT NULL,
    before          text,
    after           text,
    reference       text        NOT NULL,
    request_id      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    prev_hash       text        NOT NULL,
    hash            text        NOT NULL,
    PRIMARY KEY (account_id, seq),
    CONSTRAINT audit_events_id_key UNIQUE (account_id, id)
);
-- Listings by time window and by resource.
CREATE INDEX audit_events_created_idx ON audit_events (account_id, created_at);
CREATE INDEX audit_events_resource_idx ON audit_events (account_id, resource_type, resource_id, seq);

CREATE TABLE audit_heads (
    account_id uuid   PRIMARY KEY,
    seq        bigint NOT NULL CHECK (seq >= 0),
    hash       text   NOT NULL
);

-- History cannot be rewritten through the service's own connection: every UPDATE, DELETE
-- and TRUNCATE of audit_events fails. (A superuser can still disable the trigger, which
-- is what the hash chain is for: verification detects what the trigger cannot stop.)
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only_rows
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_append_only_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_heads;
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
