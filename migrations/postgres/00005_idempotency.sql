-- +goose Up
-- Idempotency keys of POST requests. A key is claimed in the same transaction as the
-- request's effect and the row is only ever committed holding the final response, so a
-- crash leaves either both or neither. Only successful (2xx) responses are kept: a failed
-- request leaves no row and the key can be used again.
--
-- account_id is the tenant; the platform operator, who has no account, uses the nil
-- UUID, so the table has no foreign key. request_hash is a keyed HMAC of the request
-- (method, path, query and body): bodies can hold card numbers, so neither the body nor
-- an unkeyed hash of it is stored. response_body is the response as sent (which never
-- holds a PAN), sealed with AES-256-GCM under a key derived from the server's secret,
-- because some responses carry a secret shown only once (a new client's secret).
CREATE TABLE idempotency_keys (
    account_id    uuid        NOT NULL,
    key           text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method        text        NOT NULL,
    path          text        NOT NULL,
    request_hash  text        NOT NULL,
    status        integer     NOT NULL,
    content_type  text        NOT NULL DEFAULT '',
    location      text        NOT NULL DEFAULT '',
    etag          text        NOT NULL DEFAULT '',
    response_body text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- Expiry deletes by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
