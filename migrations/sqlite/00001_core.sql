-- +goose Up
-- The embedded default mirrors the PostgreSQL schema; see migrations/postgres for the why.
-- uuid and timestamps are stored as text; configurations and metadata as JSON text.

CREATE TABLE accounts (
    account_id              text    PRIMARY KEY,
    name                    text    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    contract_configurations text    NOT NULL,
    max_subaccounts         integer NOT NULL CHECK (max_subaccounts >= 0),
    contract_version        integer NOT NULL DEFAULT 1,
    created_at              datetime NOT NULL,
    updated_at              datetime NOT NULL
);

CREATE TABLE subaccounts (
    account_id     text    NOT NULL REFERENCES accounts (account_id),
    id             text    NOT NULL,
    name           text    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    configurations text    NOT NULL,
    config_version integer NOT NULL DEFAULT 1,
    metadata       text    NOT NULL DEFAULT '{}',
    suspended      boolean NOT NULL DEFAULT false,
    created_at     datetime NOT NULL,
    updated_at     datetime NOT NULL,
    deleted_at     datetime,
    PRIMARY KEY (account_id, id)
);

CREATE UNIQUE INDEX subaccounts_account_name_key ON subaccounts (account_id, name) WHERE deleted_at IS NULL;

CREATE TABLE subaccount_entitlements (
    account_id    text NOT NULL,
    subaccount_id text NOT NULL,
    country       text NOT NULL,
    network       text NOT NULL CHECK (network IN ('VISA', 'MASTERCARD')),
    PRIMARY KEY (account_id, subaccount_id, country, network),
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id) ON DELETE CASCADE
);
CREATE INDEX subaccount_entitlements_pair_idx ON subaccount_entitlements (account_id, country, network);

CREATE TABLE oauth_clients (
    client_id     text PRIMARY KEY,
    account_id    text REFERENCES accounts (account_id),
    subaccount_id text,
    name          text NOT NULL,
    secret_hash   text NOT NULL,
    scopes        text NOT NULL,
    created_at    datetime NOT NULL,
    revoked_at    datetime,
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id)
);
CREATE INDEX oauth_clients_account_idx ON oauth_clients (account_id, client_id);

CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    algorithm   text NOT NULL,
    private_key text NOT NULL,
    created_at  datetime NOT NULL
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE oauth_clients;
DROP TABLE subaccount_entitlements;
DROP TABLE subaccounts;
DROP TABLE accounts;
