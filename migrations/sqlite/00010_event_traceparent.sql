-- +goose Up
-- The W3C traceparent of the span that wrote an event; see the PostgreSQL migration.
ALTER TABLE events ADD COLUMN traceparent text;

-- +goose Down
ALTER TABLE events DROP COLUMN traceparent;
