-- 0006: reserved for settings (filled in by its change).
SELECT 1;
