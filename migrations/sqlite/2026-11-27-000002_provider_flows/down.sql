DROP INDEX attempts_next_check;
ALTER TABLE payment_attempts DROP COLUMN flag;
ALTER TABLE payment_attempts DROP COLUMN checks;
ALTER TABLE payment_attempts DROP COLUMN next_check_at;
DROP TABLE provider_webhooks;
ALTER TABLE providers DROP COLUMN test_passed_at;
ALTER TABLE providers DROP COLUMN webhook_ok;
ALTER TABLE providers DROP COLUMN secrets_ok;
ALTER TABLE providers DROP COLUMN config_summary;
