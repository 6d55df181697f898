-- +goose Up
-- Where an account's events are delivered; see the PostgreSQL migration for the model.
CREATE TABLE webhook_endpoints (
    account_id                text     NOT NULL REFERENCES accounts (account_id),
    id                        text     NOT NULL,
    subaccount_id             text,
    url                       text     NOT NULL,
    description               text     NOT NULL,
    event_types               text     NOT NULL,
    disabled                  boolean  NOT NULL DEFAULT false,
    disabled_reason           text     NOT NULL DEFAULT '',
    secret                    text     NOT NULL,
    previous_secret           text,
    previous_secret_expires_at datetime,
    version                   integer  NOT NULL,
    created_at                datetime NOT NULL,
    updated_at                datetime NOT NULL,
    PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_endpoints_previous_whole CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_subaccount_idx ON webhook_endpoints (account_id, subaccount_id, id);

-- +goose Down
DROP TABLE webhook_endpoints;
