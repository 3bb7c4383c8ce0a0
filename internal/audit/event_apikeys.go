package audit

// API key events. UserID is the owner; Detail `key_id` (the public id,
// never the key), `name` and, on creation, `expires` (RFC 3339, "" for
// none). A use is not recorded (it would be a write per request); the
// key's last_used_at says when it was last used, to the hour.
const (
	APIKeyCreated = "api_key.created"
	APIKeyRevoked = "api_key.revoked"
)
