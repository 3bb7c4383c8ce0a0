-- 0004: reserved for audit (filled in by its change).
SELECT 1;
