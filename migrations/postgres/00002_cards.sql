-- +goose Up
-- Cards and the network messages routed to them. A card is identified by a keyed
-- fingerprint of its PAN; the PAN itself is never stored, in any column of any table.

-- Versions of the card fingerprint master key. secret is set only for the key the
-- service generated itself (the embedded default); a configured key is recorded by its
-- check value alone, so a different key under an old version is caught at start-up.
CREATE TABLE fingerprint_keys (
    version    integer     PRIMARY KEY,
    key_check  text        NOT NULL,
    secret     bytea,
    created_at timestamptz NOT NULL
);

CREATE TABLE cards (
    account_id              uuid        NOT NULL,
    id                      uuid        NOT NULL,
    subaccount_id           uuid        NOT NULL,
    network                 text        NOT NULL CHECK (network IN ('VISA', 'MASTERCARD')),
    country_code            char(3)     NOT NULL,
    -- At most the first six and last four digits: together never enough to be a PAN.
    first_numbers           char(6)     NOT NULL CHECK (first_numbers ~ '^[0-9]{6}$'),
    last_numbers            char(4)     NOT NULL CHECK (last_numbers ~ '^[0-9]{4}$'),
    exp_month               smallint    NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year                smallint    NOT NULL,
    fingerprint             bytea       NOT NULL,
    fingerprint_key_version integer     NOT NULL,
    status                  text        NOT NULL CHECK (status IN ('active', 'removed')),
    policy_status           text        NOT NULL CHECK (policy_status IN ('in-policy', 'out-of-policy')),
    metadata                jsonb       NOT NULL DEFAULT '{}',
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, subaccount_id) REFERENCES subaccounts (account_id, id)
);

-- One active card per PAN and account; a removed card frees its PAN for a new enrolment.
-- Card inserts name this index as their ON CONFLICT target.
CREATE UNIQUE INDEX cards_active_fingerprint_key ON cards (account_id, fingerprint) WHERE status = 'active';
-- Compliance groups active cards by (subaccount, country, network) and counts them as an
-- index-only scan; the trailing id hands each group's cards over in id order, so sampling
-- the first few of a group is a short index range scan with no sort.
CREATE INDEX cards_active_pair_idx ON cards (account_id, subaccount_id, country_code, network, id) WHERE status = 'active';
-- A subaccount's cards, one page at a time.
CREATE INDEX cards_subaccount_idx ON cards (account_id, subaccount_id, id);

-- Every network message ever accepted, routed into a card's bucket or waiting unrouted.
--
-- No foreign keys: this is the hot insert path, cards and subaccounts are never
-- hard-deleted, and every foreign key check would take a key-share lock on the same
-- subaccount row from every concurrent group commit. The routing columns are copied
-- from the card and the subaccount at routing time instead, which is also what the
-- compliance report must see later.
CREATE TABLE transactions (
    account_id             uuid        NOT NULL,
    id                     uuid        NOT NULL,
    network_transaction_id text        NOT NULL,
    type                   text        NOT NULL CHECK (type IN ('auth', 'clearing', 'refund', 'reversal')),
    amount                 bigint      NOT NULL CHECK (amount >= 0),
    currency               char(3)     NOT NULL,
    datetime               timestamptz NOT NULL,
    merchant_name          text        NOT NULL,
    merchant_mcc           char(4)     NOT NULL,
    merchant_country       char(3)     NOT NULL,
    merchant_city          text,
    auth_code              text,
    received_at            timestamptz NOT NULL,
    routing                text        NOT NULL CHECK (routing IN ('routed', 'unrouted')),
    unrouted_reason        text,
    requested_card_id      uuid,
    -- Kept only while unrouted, so a retry can find the card once it is enrolled.
    card_fingerprint       bytea,
    subaccount_id          uuid,
    card_id                uuid,
    card_country           char(3),
    card_network           text        CHECK (card_network IN ('VISA', 'MASTERCARD')),
    routed_at              timestamptz,
    config_version         bigint,
    policy_status          text        CHECK (policy_status IN ('in-policy', 'out-of-policy')),
    PRIMARY KEY (account_id, id),
    -- A message is unique by its network id and type; inserts skip repeats on this key.
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

-- Bucket listings: a subaccount's or a card's routed messages in arrival (id) order.
CREATE INDEX transactions_subaccount_idx ON transactions (account_id, subaccount_id, id) WHERE routing = 'routed';
CREATE INDEX transactions_card_idx ON transactions (account_id, card_id, id) WHERE routing = 'routed';
-- Listings by time window.
CREATE INDEX transactions_datetime_idx ON transactions (account_id, datetime);
-- The unrouted queue.
CREATE INDEX transactions_unrouted_idx ON transactions (account_id, id) WHERE routing = 'unrouted';
-- The compliance report's out-of-policy messages of a window.
CREATE INDEX transactions_out_of_policy_idx ON transactions (account_id, datetime) WHERE policy_status = 'out-of-policy';

-- +goose Down
DROP TABLE transactions;
DROP TABLE cards;
DROP TABLE fingerprint_keys;
