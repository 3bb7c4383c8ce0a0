-- 0005: reserved for identities (filled in by its change).
SELECT 1;
