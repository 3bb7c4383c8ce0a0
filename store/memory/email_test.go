package memory_test

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	"github.com/caddyauth/gateway/store/storetest"
)

func TestUserEmailFolding(t *testing.T) {
	storetest.TestUserEmailFolding(t, func(*testing.T) store.UserStore { return memory.New() })
}
