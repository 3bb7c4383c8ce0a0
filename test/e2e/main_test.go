package e2e

import (
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
