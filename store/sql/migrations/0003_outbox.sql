-- 0003: reserved for outbox (filled in by its change).
SELECT 1;
