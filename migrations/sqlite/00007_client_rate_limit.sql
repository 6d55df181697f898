-- +goose Up
-- A client's own rate limit in requests per second, set by the operator; NULL means the
-- service's default (CLIENT_RATE_LIMIT) and 0 means unlimited. Read with the client on
-- the token check, whose answer is cached, so the limit costs no query per request.
ALTER TABLE oauth_clients ADD COLUMN rate_limit integer CHECK (rate_limit BETWEEN 0 AND 1000000);

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN rate_limit;
