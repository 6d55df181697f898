-- +goose Up
-- Where an account's events are delivered. An endpoint belongs to the account, and to one
-- of its subaccounts when subaccount_id is set (it then receives that subaccount's events
-- only; NULL receives the whole account's). The signing secret is stored only sealed
-- under the master key (bound to the endpoint); during a rotation the previous one signs
-- beside it until previous_secret_expires_at. event_types is a JSON array of catalogue
-- types, or ["*"].
CREATE TABLE webhook_endpoints (
    account_id                uuid        NOT NULL REFERENCES accounts (account_id),
    id                        uuid        NOT NULL,
    subaccount_id             uuid,
    url                       text        NOT NULL,
    description               text        NOT NULL,
    event_types               text        NOT NULL,
    disabled                  boolean     NOT NULL DEFAULT false,
    disabled_reason           text        NOT NULL DEFAULT '',
    secret                    text        NOT NULL,
    previous_secret           text,
    previous_secret_expires_at timestamptz,
    version                   bigint      NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_endpoints_previous_whole CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_subaccount_idx ON webhook_endpoints (account_id, subaccount_id, id);

-- +goose Down
DROP TABLE webhook_endpoints;
