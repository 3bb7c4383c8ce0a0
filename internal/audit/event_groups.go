package audit

// UserGroupsChanged: an account's groups changed. Detail `before` and
// `after` (comma-separated, "" for none) and `source` (`oidc:<name>` or
// `oauth:<preset>` for an identity provider's groups claim); Actor is the
// source. Kept beside the other event types (event.go) in a file of its
// own only so that parallel changes to that list merge cleanly.
const UserGroupsChanged = "user.groups_changed"
