-- +goose Up
-- The hot paths look rows up by their unique keys in prepared statements, whose generic
-- plans PostgreSQL builds once per connection. While a table is empty or has never been
-- analysed, every index that starts with account_id costs the same to the planner, and it
-- takes the newest of equals: a plan made then used transactions_datetime_idx for a
-- message's key (scanning the account's whole history at every look-up, seen at 4.8 ms a
-- group 10,000 rows in) and cards_subaccount_idx for a card id, and kept them as the
-- table grew. These look-up indexes are rebuilt here so that they are the newest of their
-- tables and win those ties; with statistics they win on cost. A later index on these
-- tables must not be created after them without checking the generic plans
-- (store's TestGroupReadsUseUniqueKeys does, on empty and on filled tables).
CREATE UNIQUE INDEX cards_pkey_rebuilt ON cards (account_id, id);
ALTER TABLE cards DROP CONSTRAINT cards_pkey,
    ADD CONSTRAINT cards_pkey PRIMARY KEY USING INDEX cards_pkey_rebuilt;
CREATE UNIQUE INDEX cards_active_fingerprint_rebuilt ON cards (account_id, fingerprint) WHERE status = 'active';
DROP INDEX cards_active_fingerprint_key;
ALTER INDEX cards_active_fingerprint_rebuilt RENAME TO cards_active_fingerprint_key;
CREATE UNIQUE INDEX transactions_message_rebuilt ON transactions (account_id, network_transaction_id, type);
ALTER TABLE transactions DROP CONSTRAINT transactions_message_key,
    ADD CONSTRAINT transactions_message_key UNIQUE USING INDEX transactions_message_rebuilt;

-- +goose Down
-- The same indexes, in creation order only: nothing to undo.
SELECT 1;
