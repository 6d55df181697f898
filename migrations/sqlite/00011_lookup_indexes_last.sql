-- +goose Up
-- PostgreSQL rebuilds its look-up indexes so that generic plans choose them (see its
-- migration); SQLite plans every statement as it runs and needs nothing.
SELECT 1;

-- +goose Down
SELECT 1;
