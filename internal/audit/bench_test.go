package audit_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// BenchmarkRecordSQLite is the cost an audited login pays: one sealed
// append to a SQLite file (WAL), run in parallel like concurrent logins.
func BenchmarkRecordSQLite(b *testing.B) {
	db, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "auth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, err := audit.NewChain(db, audit.Options{Key: make32()})
	if err != nil {
		b.Fatal(err)
	}
	e := audit.Event{
		Type: audit.LoginSucceeded, UserID: "0123456789abcdef0123456789abcdef", Email: "alice@example.test",
		IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", Detail: map[string]string{"method": "password", "session": "0123456789abcdef"},
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Record(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func make32() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}
