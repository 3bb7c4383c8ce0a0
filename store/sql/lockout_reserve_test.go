package sqlstore

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

func TestLockoutReserve(t *testing.T) {
	storetest.TestLockoutReserve(t, func(t *testing.T) store.LockoutStore { return openTemp(t) })
}
