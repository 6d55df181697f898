-- +goose Up
-- See migrations/postgres/00003_ledger.sql for the why. SQLite cannot add table
-- constraints to an existing table, so the cross-column checks are column constraints
-- here (SQLite lets those name other columns).

ALTER TABLE accounts ADD COLUMN currency text NOT NULL DEFAULT 'EUR' CHECK (length(currency) = 3 AND currency = upper(currency));
ALTER TABLE accounts ADD COLUMN price_card_enrolment integer NOT NULL DEFAULT 0 CHECK (price_card_enrolment >= 0);
ALTER TABLE accounts ADD COLUMN price_transaction integer NOT NULL DEFAULT 0 CHECK (price_transaction >= 0);
ALTER TABLE accounts ADD COLUMN balance integer NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN credit_limit integer NOT NULL DEFAULT 0 CHECK (credit_limit >= 0);
ALTER TABLE accounts ADD COLUMN allocated_credit integer NOT NULL DEFAULT 0 CHECK (allocated_credit >= 0 AND allocated_credit <= credit_limit);
ALTER TABLE accounts ADD COLUMN over_limit boolean NOT NULL DEFAULT false CHECK (over_limit OR balance >= allocated_credit - credit_limit);
ALTER TABLE accounts ADD COLUMN version integer NOT NULL DEFAULT 1;

ALTER TABLE subaccounts ADD COLUMN use_primary_balance boolean NOT NULL DEFAULT true;
ALTER TABLE subaccounts ADD COLUMN balance integer NOT NULL DEFAULT 0;
ALTER TABLE subaccounts ADD COLUMN credit_limit integer NOT NULL DEFAULT 0 CHECK (credit_limit >= 0);
ALTER TABLE subaccounts ADD COLUMN over_limit boolean NOT NULL DEFAULT false CHECK (over_limit OR balance >= -credit_limit);
ALTER TABLE subaccounts ADD COLUMN auto_top_up_threshold integer NOT NULL DEFAULT 0;
ALTER TABLE subaccounts ADD COLUMN auto_top_up_amount integer NOT NULL DEFAULT 0 CHECK (auto_top_up_amount >= 0);
ALTER TABLE subaccounts ADD COLUMN max_cards integer NOT NULL DEFAULT 0 CHECK (max_cards >= 0);
ALTER TABLE subaccounts ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (NOT use_primary_balance OR (balance = 0 AND credit_limit = 0 AND auto_top_up_amount = 0));

ALTER TABLE cards ADD COLUMN enrolled_subaccount_id text;

ALTER TABLE transactions ADD COLUMN subaccount_suspended boolean NOT NULL DEFAULT false;

CREATE TABLE ledger_entries (
    account_id    text     NOT NULL REFERENCES accounts (account_id),
    id            text     NOT NULL,
    kind          text     NOT NULL CHECK (kind IN ('top-up', 'credit-limit', 'credit-transfer', 'balance-transfer', 'charge')),
    ledger        text     NOT NULL CHECK (ledger IN ('balance', 'credit')),
    from_party    text     NOT NULL,
    to_party      text     NOT NULL,
    amount        integer  NOT NULL CHECK (amount > 0),
    subaccount_id text,
    reference     text     NOT NULL,
    charge_type   text     CHECK (charge_type IN ('card-enrolment', 'transaction')),
    subject_id    text,
    created_at    datetime NOT NULL,
    PRIMARY KEY (account_id, id),
    CHECK (from_party <> to_party),
    CHECK ((kind = 'charge') = (charge_type IS NOT NULL)),
    CHECK ((kind IN ('credit-limit', 'credit-transfer')) = (ledger = 'credit'))
);
CREATE INDEX ledger_entries_kind_idx ON ledger_entries (account_id, kind, id);
CREATE INDEX ledger_entries_subaccount_idx ON ledger_entries (account_id, subaccount_id, kind, strftime('%Y-%m-%dT%H:%M:%f', created_at));

-- The journal is append-only: corrections are new entries.
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
-- SQLite cannot drop a column that a CHECK constraint names, so the account and
-- subaccount columns stay; a later Up must not run on a database rolled back this way.
DROP TRIGGER ledger_entries_no_delete;
DROP TRIGGER ledger_entries_no_update;
DROP TABLE ledger_entries;
ALTER TABLE transactions DROP COLUMN subaccount_suspended;
ALTER TABLE cards DROP COLUMN enrolled_subaccount_id;
