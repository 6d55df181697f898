-- +goose Up
-- The tamper-evident audit log. Each account's events form a hash chain: an event's hash
-- covers the previous event's hash and a canonical form of the event itself, so changing,
-- removing or reordering any chained event breaks every link after it.
--
-- An event is written in the same transaction as the change it records, unchained: seq,
-- prev_hash and hash are NULL. A chainer links it afterwards (within a fraction of a
-- second, or at once when the log is read): it locks the account's row in audit_heads,
-- gives the unchained events seq, prev_hash and hash in id (UUIDv7, time) order and moves
-- the head. Chaining inside the writing transaction held that lock until commit and so
-- serialised every audited write of an account through a commit; now only the chainer
-- waits for it.
--
-- No foreign key to accounts: the log must outlive and never block anything it records,
-- so a foreign key check would only add a lock. before and after are JSON documents kept
-- as text, byte for byte as they are hashed (jsonb would normalise them).

CREATE TABLE audit_events (
    account_id      uuid        NOT NULL,
    id              uuid        NOT NULL,
    seq             bigint      CHECK (seq >= 1),
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
    prev_hash       text,
    hash            text,
    PRIMARY KEY (account_id, id),
    -- An event is either unchained (all three NULL) or chained (all three set).
    CONSTRAINT audit_events_chained_whole CHECK (
        (seq IS NULL) = (hash IS NULL) AND (prev_hash IS NULL) = (hash IS NULL)
    )
);
-- One event per link; unchained events have no seq yet.
CREATE UNIQUE INDEX audit_events_seq_key ON audit_events (account_id, seq) WHERE seq IS NOT NULL;
-- What the chainer looks for: small, since events leave it within a moment.
CREATE INDEX audit_events_unchained_idx ON audit_events (account_id, id) WHERE hash IS NULL;
-- Listings by time window and by resource.
CREATE INDEX audit_events_created_idx ON audit_events (account_id, created_at);
CREATE INDEX audit_events_resource_idx ON audit_events (account_id, resource_type, resource_id, id);

CREATE TABLE audit_heads (
    account_id uuid   PRIMARY KEY,
    seq        bigint NOT NULL CHECK (seq >= 0),
    hash       text   NOT NULL
);

-- History cannot be rewritten through the service's own connection: DELETE and TRUNCATE
-- of audit_events always fail, and so does every UPDATE but the chaining one, which fills
-- in seq, prev_hash and hash of an unchained event and changes nothing else. (A
-- superuser can still disable the triggers, which is what the hash chain is for:
-- verification detects what the triggers cannot stop, once an event is chained.)
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.hash IS NULL AND OLD.seq IS NULL AND OLD.prev_hash IS NULL
        AND NEW.hash IS NOT NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
        AND NEW.account_id IS NOT DISTINCT FROM OLD.account_id
        AND NEW.id IS NOT DISTINCT FROM OLD.id
        AND NEW.actor_sub IS NOT DISTINCT FROM OLD.actor_sub
        AND NEW.actor_client_id IS NOT DISTINCT FROM OLD.actor_client_id
        AND NEW.action IS NOT DISTINCT FROM OLD.action
        AND NEW.resource_type IS NOT DISTINCT FROM OLD.resource_type
        AND NEW.resource_id IS NOT DISTINCT FROM OLD.resource_id
        AND NEW.before IS NOT DISTINCT FROM OLD.before
        AND NEW.after IS NOT DISTINCT FROM OLD.after
        AND NEW.reference IS NOT DISTINCT FROM OLD.reference
        AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
        AND NEW.created_at IS NOT DISTINCT FROM OLD.created_at
    THEN
        RETURN NEW;
    END IF;
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
