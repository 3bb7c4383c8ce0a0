package memory_test

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	"github.com/caddyauth/gateway/store/storetest"
)

func TestAuditStore(t *testing.T) {
	storetest.TestAuditStore(t, func(*testing.T) store.AuditStore { return memory.NewAudit() })
}
