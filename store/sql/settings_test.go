package sqlstore

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

func TestSettingsStore(t *testing.T) {
	storetest.TestSettingsStore(t, func(t *testing.T) store.SettingsStore { return openTemp(t) })
}

func TestLockoutStore(t *testing.T) {
	storetest.TestLockoutStore(t, func(t *testing.T) store.LockoutStore { return openTemp(t) })
}
