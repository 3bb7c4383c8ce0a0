package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/storetest"
)

func TestAuditStore(t *testing.T) {
	storetest.TestAuditStore(t, func(t *testing.T) store.AuditStore { return openTemp(t) })
}

func seal(typ string) func(head *store.AuditRecord) (*store.AuditRecord, error) {
	return func(head *store.AuditRecord) (*store.AuditRecord, error) {
		r := &store.AuditRecord{Seq: 1, Time: time.Now(), Type: typ}
		if head != nil {
			r.Seq, r.PrevMAC = head.Seq+1, head.MAC
		}
		sum := sha256.Sum256(fmt.Appendf(bytes.Clone(r.PrevMAC), "%d", r.Seq))
		r.MAC = sum[:]
		return r, nil
	}
}

func checkLinear(t *testing.T, db *DB, n int) {
	t.Helper()
	recs, err := db.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) || (i > 0 && !bytes.Equal(r.PrevMAC, recs[i-1].MAC)) {
			t.Fatalf("record %d (seq %d) breaks the chain", i, r.Seq)
		}
	}
}

// TestAuditSeveralHandles: two independently opened databases on one file
// (separate connection pools, like two processes) append at once.
func TestAuditSeveralHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	var dbs []*DB
	for range 3 {
		db, err := Open(context.Background(), "sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	const each = 40
	var wg sync.WaitGroup
	for i, db := range dbs {
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					if _, err := db.AppendAudit(context.Background(), seal(fmt.Sprintf("h%d.g%d.%d", i, g, j))); err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	checkLinear(t, dbs[0], len(dbs)*2*each)
}

// TestAuditSeveralProcesses runs this test binary several times as child
// processes appending to one SQLite file at once (see
// TestAuditChildAppender), then checks the chain is one line.
func TestAuditSeveralProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := Open(context.Background(), "sqlite", path) // migrated before the children start
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const procs, each = 4, 30
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAuditChildAppender$", "-test.count=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = append(os.Environ(), "CADDYAUTH_AUDIT_CHILD_DB="+path, "CADDYAUTH_AUDIT_CHILD_N="+strconv.Itoa(each))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	checkLinear(t, db, procs*each)
}

// TestAuditChildAppender is the child side of TestAuditSeveralProcesses;
// it does nothing in a normal run.
func TestAuditChildAppender(t *testing.T) {
	path := os.Getenv("CADDYAUTH_AUDIT_CHILD_DB")
	if path == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("CADDYAUTH_AUDIT_CHILD_N"))
	db, err := Open(context.Background(), "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range n {
		if _, err := db.AppendAudit(context.Background(), seal(fmt.Sprintf("p%d.%d", os.Getpid(), i))); err != nil {
			t.Fatal(err)
		}
	}
}
