-- +goose Up
-- Cost control: balances, credit limits, pricing, a double-entry journal, card quotas,
-- and versions for optimistic concurrency. Money is bigint minor units in the contract's
-- currency; there is no floating point anywhere in the ledger.

ALTER TABLE accounts
    ADD COLUMN currency               char(3) NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN price_card_enrolment   bigint  NOT NULL DEFAULT 0 CHECK (price_card_enrolment >= 0),
    ADD COLUMN price_transaction      bigint  NOT NULL DEFAULT 0 CHECK (price_transaction >= 0),
    ADD COLUMN balance                bigint  NOT NULL DEFAULT 0,
    ADD COLUMN credit_limit           bigint  NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    -- The sum of the subaccounts' credit limits, kept in the same transaction as every
    -- credit transfer, so the database itself can hold the primary to its contract.
    ADD COLUMN allocated_credit       bigint  NOT NULL DEFAULT 0 CHECK (allocated_credit >= 0),
    ADD COLUMN over_limit             boolean NOT NULL DEFAULT false,
    ADD COLUMN version                bigint  NOT NULL DEFAULT 1,
    ADD CONSTRAINT accounts_allocation_within_limit_check CHECK (allocated_credit <= credit_limit),
    -- The primary may use the credit it has not handed out. Only a network transaction fee
    -- (never refused) may take it further, and that must raise over_limit.
    ADD CONSTRAINT accounts_balance_floor_check CHECK (over_limit OR balance >= allocated_credit - credit_limit);

ALTER TABLE subaccounts
    ADD COLUMN use_primary_balance   boolean NOT NULL DEFAULT true,
    ADD COLUMN balance               bigint  NOT NULL DEFAULT 0,
    ADD COLUMN credit_limit          bigint  NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    ADD COLUMN over_limit            boolean NOT NULL DEFAULT false,
    ADD COLUMN auto_top_up_threshold bigint  NOT NULL DEFAULT 0,
    ADD COLUMN auto_top_up_amount    bigint  NOT NULL DEFAULT 0 CHECK (auto_top_up_amount >= 0),
    -- 0 means no quota.
    ADD COLUMN max_cards             integer NOT NULL DEFAULT 0 CHECK (max_cards >= 0),
    ADD COLUMN version               bigint  NOT NULL DEFAULT 1,
    -- A subaccount on the shared balance holds no money and no credit of its own.
    ADD CONSTRAINT subaccounts_shared_balance_check CHECK (NOT use_primary_balance OR (balance = 0 AND credit_limit = 0 AND auto_top_up_amount = 0)),
    ADD CONSTRAINT subaccounts_balance_floor_check CHECK (over_limit OR balance >= -credit_limit);

-- The subaccount a card was first enrolled into, which usage counts enrolments by even
-- after the card moves.
ALTER TABLE cards ADD COLUMN enrolled_subaccount_id uuid;

-- Messages for a suspended subaccount's cards are routed all the same, and flagged.
ALTER TABLE transactions ADD COLUMN subaccount_suspended boolean NOT NULL DEFAULT false;

-- The journal: every movement of money or credit is one row moving amount from one party
-- to another on one ledger, so each row is a balanced double entry and every balance and
-- credit limit can be recomputed by summing the rows. Parties are the account id (the
-- primary), a subaccount id, 'external' (money and credit the customer brings) and
-- 'revenue' (charges).
CREATE TABLE ledger_entries (
    account_id    uuid        NOT NULL REFERENCES accounts (account_id),
    id            uuid        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('top-up', 'credit-limit', 'credit-transfer', 'balance-transfer', 'charge')),
    ledger        text        NOT NULL CHECK (ledger IN ('balance', 'credit')),
    from_party    text        NOT NULL,
    to_party      text        NOT NULL,
    amount        bigint      NOT NULL CHECK (amount > 0),
    -- The subaccount concerned: the subaccount side of a transfer, or whose usage a charge is.
    subaccount_id uuid,
    reference     text        NOT NULL,
    charge_type   text        CHECK (charge_type IN ('card-enrolment', 'transaction')),
    -- The card or transaction a charge is for.
    subject_id    uuid,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (account_id, id),
    CHECK (from_party <> to_party),
    CHECK ((kind = 'charge') = (charge_type IS NOT NULL)),
    CHECK ((kind IN ('credit-limit', 'credit-transfer')) = (ledger = 'credit'))
);
CREATE INDEX ledger_entries_kind_idx ON ledger_entries (account_id, kind, id);
CREATE INDEX ledger_entries_subaccount_idx ON ledger_entries (account_id, subaccount_id, kind, created_at);

-- The journal is append-only: corrections are new entries.
-- +goose StatementBegin
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- +goose Down
DROP TRIGGER ledger_entries_append_only ON ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE ledger_entries;
ALTER TABLE transactions DROP COLUMN subaccount_suspended;
ALTER TABLE cards DROP COLUMN enrolled_subaccount_id;
ALTER TABLE subaccounts
    DROP CONSTRAINT subaccounts_balance_floor_check,
    DROP CONSTRAINT subaccounts_shared_balance_check,
    DROP COLUMN version, DROP COLUMN max_cards, DROP COLUMN auto_top_up_amount,
    DROP COLUMN auto_top_up_threshold, DROP COLUMN over_limit, DROP COLUMN credit_limit,
    DROP COLUMN balance, DROP COLUMN use_primary_balance;
ALTER TABLE accounts
    DROP CONSTRAINT accounts_balance_floor_check,
    DROP CONSTRAINT accounts_allocation_within_limit_check,
    DROP COLUMN version, DROP COLUMN over_limit, DROP COLUMN allocated_credit,
    DROP COLUMN credit_limit, DROP COLUMN balance, DROP COLUMN price_transaction,
    DROP COLUMN price_card_enrolment, DROP COLUMN currency;
