-- +goose Up
-- PostgreSQL drops the outbox's foreign keys for the group commits' sake (see its
-- migration). SQLite has one writer at a time and no such contention; its keys stay,
-- and the code deletes what they would cascade itself on both databases.
SELECT 1;

-- +goose Down
SELECT 1;
