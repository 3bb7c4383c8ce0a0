package sqlstore

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

// TestUserEmailFolding runs on a real SQLite file: the unique index and the
// lookup compare the stored bytes, so Go's folding is what counts.
func TestUserEmailFolding(t *testing.T) {
	storetest.TestUserEmailFolding(t, func(t *testing.T) store.UserStore { return openTemp(t) })
}
