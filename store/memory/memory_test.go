package memory_test

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	"github.com/caddyauth/gateway/store/storetest"
)

// noUser: the memory store does not check that a session's user exists.
func noUser(*testing.T, string) {}

func TestUserStore(t *testing.T) {
	storetest.TestUserStore(t, func(*testing.T) store.UserStore { return memory.New() })
}

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(*testing.T) (store.SessionStore, storetest.AddUser) {
		return memory.New(), noUser
	})
}

func TestTokenStore(t *testing.T) {
	storetest.TestTokenStore(t, func(*testing.T) (store.TokenStore, storetest.AddUser) {
		return memory.New(), noUser
	})
}

func TestGrantStore(t *testing.T) {
	storetest.TestGrantStore(t, func(*testing.T) (store.GrantStore, storetest.AddUser) {
		return memory.New(), noUser
	})
}

func TestDeleteUserCascades(t *testing.T) {
	m := memory.New()
	storetest.TestDeleteUserCascades(t, m, m, m)
}

func TestMFAStore(t *testing.T) {
	storetest.TestMFAStore(t, func(*testing.T) storetest.MFAStores { return memory.New() })
}

func TestSettingsStore(t *testing.T) {
	storetest.TestSettingsStore(t, func(*testing.T) store.SettingsStore { return memory.New() })
}

func TestLockoutStore(t *testing.T) {
	storetest.TestLockoutStore(t, func(*testing.T) store.LockoutStore { return memory.New() })
}

func TestIdentityStore(t *testing.T) {
	storetest.TestIdentityStore(t, func(*testing.T) storetest.Identities { return memory.New() })
}

func TestAPIKeyStore(t *testing.T) {
	storetest.TestAPIKeyStore(t, func(*testing.T) storetest.APIKeys { return memory.New() })
}

func TestOutboxStore(t *testing.T) {
	storetest.TestOutboxStore(t, func(*testing.T) (store.OutboxStore, storetest.AddUser) { return memory.NewOutbox(), noUser })
}

func TestUserImporter(t *testing.T) {
	storetest.TestUserImporter(t, func(*testing.T) storetest.ImportStores { return memory.New() })
}
