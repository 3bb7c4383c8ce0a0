package sqlstore

import (
	"testing"

	"github.com/caddyauth/gateway/store/storetest"
)

func TestIdentityStore(t *testing.T) {
	storetest.TestIdentityStore(t, func(t *testing.T) storetest.Identities { return openTemp(t) })
}
