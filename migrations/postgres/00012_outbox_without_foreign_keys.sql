-- +goose Up
-- The outbox's rows are written with the changes they record, many times a second per
-- account: a foreign key check per row took a share lock on the account's row and on the
-- endpoint's row in every group commit, so concurrent commits queued on the same two rows
-- (multixacts) and the outbox insert lost 30-45 % of its throughput in a pgbench of
-- concurrent 10-event commits. The keys guarded nothing the code does not: accounts are
-- never deleted; an event and its deliveries are inserted by one statement and purged
-- together (PurgeEvents deletes the deliveries first); deleting an endpoint deletes its
-- deliveries in the same transaction (DeleteWebhookEndpoint). A delivery written for an
-- endpoint deleted in the same instant is never claimed (the claim joins the endpoints)
-- and goes with the retention purge. Attempts keep their key to their delivery, which
-- only the delivery worker writes and which cascades their deletion.
ALTER TABLE events DROP CONSTRAINT events_account_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_account_id_endpoint_id_fkey,
    DROP CONSTRAINT webhook_deliveries_account_id_event_id_fkey;

-- +goose Down
ALTER TABLE events ADD CONSTRAINT events_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (account_id);
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_account_id_endpoint_id_fkey FOREIGN KEY (account_id, endpoint_id)
        REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_deliveries_account_id_event_id_fkey FOREIGN KEY (account_id, event_id)
        REFERENCES events (account_id, id) ON DELETE CASCADE;
