-- +goose Up
-- The W3C traceparent of the span that wrote an event (the request's, or the group
-- commit's), so every delivery attempt continues that trace; NULL when tracing was off.
-- It names trace and span ids only, never request data.
ALTER TABLE events ADD COLUMN traceparent text;

-- +goose Down
ALTER TABLE events DROP COLUMN traceparent;
