-- +goose Up
-- Mirrors migrations/postgres/00002_cards.sql; see there for the why. uuid, char(n) and
-- jsonb are text, bytea is blob, timestamps are datetime (RFC 3339 text).

CREATE TABLE fingerprint_keys (
    version    integer  PRIMARY KEY,
    key_check  text     NOT NULL,
    secret     blob,
    created_at datetime NOT NULL
);

CREATE TABLE cards (
    account_id              text     NOT NULL,
    id                      text     NOT NULL,
    subaccount_id           text     NOT NULL,
    network                 text     NOT NULL CHECK (network IN ('VISA', 'MASTERCARD')),
    country_code            text     NOT NULL,
    first_numbers           text     NOT NULL CHECK (length(first_numbers) = 6 AND first_numbers NOT GLOB '*[^0-9]*'),
    last_numbers            text     NOT NULL CHECK (length(last_numbers) = 4 AND last_numbers NOT GLOB '*[^0-9]*'),
    exp_month               integer  NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year                integer  NOT NULL,
    fingerprint             blob     NOT NULL,
    fingerprint_key_version integer  NOT NULL,
    status                  text     NOT NULL CHECK (status IN ('active', 'removed')),
    policy_status           text     NOT NULL CHECK (policy_status IN ('in-policy', 'out-of-policy')),
    metadata                text     NOT NULL DEFAULT '{}',
    created_at              datetime NOT NULL,
    updated_at              datetime NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id)
);

CREATE UNIQUE INDEX cards_active_fingerprint_key ON cards (account_id, fingerprint) WHERE status = 'active';
CREATE INDEX cards_active_pair_idx ON cards (account_id, subaccount_id, country_code, network, id) WHERE status = 'active';
CREATE INDEX cards_subaccount_idx ON cards (account_id, subaccount_id, id);

CREATE TABLE transactions (
    account_id             text     NOT NULL,
    id                     text     NOT NULL,
    network_transaction_id text     NOT NULL,
    type                   text     NOT NULL CHECK (type IN ('auth', 'clearing', 'refund', 'reversal')),
    amount                 integer  NOT NULL CHECK (amount >= 0),
    currency               text     NOT NULL,
    datetime               datetime NOT NULL,
    merchant_name          text     NOT NULL,
    merchant_mcc           text     NOT NULL,
    merchant_country       text     NOT NULL,
    merchant_city          text,
    auth_code              text,
    received_at            datetime NOT NULL,
    routing                text     NOT NULL CHECK (routing IN ('routed', 'unrouted')),
    unrouted_reason        text,
    requested_card_id      text,
    card_fingerprint       blob,
    subaccount_id          text,
    card_id                text,
    card_country           text,
    card_network           text     CHECK (card_network IN ('VISA', 'MASTERCARD')),
    routed_at              datetime,
    config_version         integer,
    policy_status          text     CHECK (policy_status IN ('in-policy', 'out-of-policy')),
    PRIMARY KEY (account_id, id),
    CONSTRAINT transactions_message_key UNIQUE (account_id, network_transaction_id, type),
    CONSTRAINT transactions_routing_state_check CHECK (
        (routing = 'routed'
            AND subaccount_id IS NOT NULL AND card_id IS NOT NULL
            AND card_country IS NOT NULL AND card_network IS NOT NULL
            AND routed_at IS NOT NULL AND config_version IS NOT NULL AND policy_status IS NOT NULL
            AND card_fingerprint IS NULL AND unrouted_reason IS NULL)
        OR (routing = 'unrouted'
            AND unrouted_reason IS NOT NULL
            AND subaccount_id IS NULL AND card_id IS NULL
            AND card_country IS NULL AND card_network IS NULL
            AND routed_at IS NULL AND config_version IS NULL AND policy_status IS NULL)
    )
);

CREATE INDEX transactions_subaccount_idx ON transactions (account_id, subaccount_id, id) WHERE routing = 'routed';
CREATE INDEX transactions_card_idx ON transactions (account_id, card_id, id) WHERE routing = 'routed';
CREATE INDEX transactions_unrouted_idx ON transactions (account_id, id) WHERE routing = 'unrouted';
-- Times are RFC 3339 text with trailing fractional zeros trimmed ("…:05Z" but
-- "…:05.5Z"), which does not compare as text. Time windows compare a fixed-width form
-- instead; these indexes are on exactly that expression, so the windows still use them.
CREATE INDEX transactions_datetime_idx ON transactions (account_id, strftime('%Y-%m-%dT%H:%M:%f', datetime));
CREATE INDEX transactions_out_of_policy_idx ON transactions (account_id, strftime('%Y-%m-%dT%H:%M:%f', datetime)) WHERE policy_status = 'out-of-policy';

-- +goose Down
DROP TABLE transactions;
DROP TABLE cards;
DROP TABLE fingerprint_keys;
