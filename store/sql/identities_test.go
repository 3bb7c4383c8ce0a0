package sqlstore

import (
	"testing"

	"github.com/caddyauth/gateway/store/storetest"
)

func TestIdentityStore(t *testing.T) {
	storetest.TestIdentityStore(t, func(t *testing.T) storetest.Identities { return openTemp(t) })
}

func TestAPIKeyStore(t *testing.T) {
	storetest.TestAPIKeyStore(t, func(t *testing.T) storetest.APIKeys { return openTemp(t) })
}
