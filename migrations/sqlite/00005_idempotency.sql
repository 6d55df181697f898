-- +goose Up
-- Mirrors migrations/postgres/00005_idempotency.sql; see there for the why. uuid is text,
-- timestamps are datetime (RFC 3339 text), compared through the fixed-width strftime form
-- that the index below holds.
CREATE TABLE idempotency_keys (
    account_id    text     NOT NULL,
    key           text     NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method        text     NOT NULL,
    path          text     NOT NULL,
    request_hash  text     NOT NULL,
    status        integer  NOT NULL,
    content_type  text     NOT NULL DEFAULT '',
    location      text     NOT NULL DEFAULT '',
    etag          text     NOT NULL DEFAULT '',
    response_body text     NOT NULL DEFAULT '',
    created_at    datetime NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (strftime('%Y-%m-%dT%H:%M:%f', created_at));

-- +goose Down
DROP TABLE idempotency_keys;
