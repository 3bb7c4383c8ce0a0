package audit

// UserGroupsChanged: an account's groups changed. Detail `before` and
// `after` (comma-separated, "" for none) and `source` (`oidc:<name>` or
// `oauth:<preset>` for an identity provider's groups claim); Actor is the
// source. Kept beside the other event types (event.go) in a file of its
// own only so that parallel changes to that list merge cleanly.
const UserGroupsChanged = "user.groups_changed"

// MaxDetailText is the longest detail value a record keeps (longer ones
// are cut at a rune boundary): callers flag a value that will be cut.
const MaxDetailText = maxDetailText
