-- +goose Up
-- Every tenant table carries account_id, and its keys lead with it: it is the future
-- distribution key, and it makes every tenant-scoped lookup an index prefix scan.

CREATE TABLE accounts (
    account_id              uuid        PRIMARY KEY,
    name                    text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    contract_configurations jsonb       NOT NULL,
    max_subaccounts         integer     NOT NULL CHECK (max_subaccounts >= 0),
    contract_version        bigint      NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);

CREATE TABLE subaccounts (
    account_id     uuid        NOT NULL REFERENCES accounts (account_id),
    id             uuid        NOT NULL,
    name           text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    configurations jsonb       NOT NULL,
    config_version bigint      NOT NULL DEFAULT 1,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    suspended      boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    PRIMARY KEY (account_id, id)
);

-- Names identify a business client inside one account; a deleted subaccount frees its name.
CREATE UNIQUE INDEX subaccounts_account_name_key ON subaccounts (account_id, name) WHERE deleted_at IS NULL;

-- The compiled (country, network) pairs of each live subaccount, kept in step with
-- subaccounts.configurations in the same transaction. They let the database answer
-- "which subaccounts permit GBR on VISA" and aggregate compliance by pair.
CREATE TABLE subaccount_entitlements (
    account_id    uuid NOT NULL,
    subaccount_id uuid NOT NULL,
    country       char(3) NOT NULL,
    network       text NOT NULL CHECK (network IN ('VISA', 'MASTERCARD')),
    PRIMARY KEY (account_id, subaccount_id, country, network),
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id) ON DELETE CASCADE
);
CREATE INDEX subaccount_entitlements_pair_idx ON subaccount_entitlements (account_id, country, network);

-- Clients of the built-in OAuth2 issuer. Operator clients have no account. This and
-- signing_keys belong to the issuer, not to a tenant: the token endpoint looks a client up
-- by its id before any account is known, so the key is client_id, and the account's
-- clients are reached through (account_id, client_id).
CREATE TABLE oauth_clients (
    client_id     text        PRIMARY KEY,
    account_id    uuid        REFERENCES accounts (account_id),
    subaccount_id uuid,
    name          text        NOT NULL,
    secret_hash   text        NOT NULL,
    scopes        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id)
);
CREATE INDEX oauth_clients_account_idx ON oauth_clients (account_id, client_id);

-- The built-in issuer's signing keys, generated once and shared by every replica.
CREATE TABLE signing_keys (
    kid         text        PRIMARY KEY,
    algorithm   text        NOT NULL,
    private_key text        NOT NULL,
    created_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE oauth_clients;
DROP TABLE subaccount_entitlements;
DROP TABLE subaccounts;
DROP TABLE accounts;
