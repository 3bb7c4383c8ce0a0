package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

const (
	secretA = "audit-test-secret-A-0123456789abcdefghijklmnop"
	secretB = "audit-test-secret-B-0123456789abcdefghijklmnop"
)

func ring(t *testing.T, current, previous string) *keys.Ring {
	t.Helper()
	r, err := keys.NewRing(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newChain(t *testing.T, st store.AuditStore, r *keys.Ring, sinks ...audit.Sink) *audit.Chain {
	t.Helper()
	c, err := audit.NewChain(st, audit.Options{Key: r.Key(audit.KeyPurpose), Sinks: sinks})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func record(t *testing.T, c audit.Recorder, n int) {
	t.Helper()
	for i := range n {
		e := audit.Event{
			Type: audit.LoginSucceeded, UserID: fmt.Sprintf("u%d", i%3), Email: fmt.Sprintf("user%d@example.test", i%3),
			IP: "192.0.2.7", UserAgent: "test/1", Detail: map[string]string{"method": "password", "session": fmt.Sprintf("s%d", i)},
		}
		if i%4 == 1 {
			e.Type, e.Reason, e.UserID = audit.LoginFailed, "invalid_credentials", ""
		}
		if err := c.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, st store.AuditStore, r *keys.Ring) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), st, r.VerifyKeys(audit.KeyPurpose))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCanonicalIsUnambiguous(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	base := store.AuditRecord{Seq: 1, Time: at}
	pairs := [][2]store.AuditRecord{
		{{Type: "ab", UserID: "c"}, {Type: "a", UserID: "bc"}},
		{{Email: "x"}, {Actor: "x"}},
		{{Reason: ""}, {Reason: "\x00"}},
		{{Detail: map[string]string{"a": "bc"}}, {Detail: map[string]string{"ab": "c"}}},
		{{Detail: map[string]string{"a": ""}}, {Detail: map[string]string{}}},
		{{Detail: map[string]string{"k": "v"}}, {Reason: "k", Detail: map[string]string{}}},
		{{Seq: 2}, {Seq: 3}},
		{{Time: at.Add(time.Millisecond)}, {}},
	}
	fill := func(r store.AuditRecord) *store.AuditRecord {
		if r.Seq == 0 {
			r.Seq = base.Seq
		}
		if r.Time.IsZero() {
			r.Time = base.Time
		}
		return &r
	}
	for i, p := range pairs {
		if bytes.Equal(audit.Canonical(fill(p[0])), audit.Canonical(fill(p[1]))) {
			t.Errorf("pair %d: two different records share an encoding", i)
		}
	}
	// Detail order does not matter: maps have none.
	d1 := fill(store.AuditRecord{Detail: map[string]string{"a": "1", "b": "2", "c": "3"}})
	for range 20 {
		d2 := fill(store.AuditRecord{Detail: map[string]string{"c": "3", "a": "1", "b": "2"}})
		if !bytes.Equal(audit.Canonical(d1), audit.Canonical(d2)) {
			t.Fatal("the encoding depends on map order")
		}
	}
	key := ring(t, secretA, "").Key(audit.KeyPurpose)
	r := fill(store.AuditRecord{Type: "x"})
	m1 := audit.MAC(key, r)
	r.PrevMAC = bytes.Repeat([]byte{1}, 32)
	if bytes.Equal(m1, audit.MAC(key, r)) {
		t.Error("the MAC does not cover the previous MAC")
	}
}

func TestAppendAndVerify(t *testing.T) {
	st := memory.NewAudit()
	r := ring(t, secretA, "")
	c := newChain(t, st, r)
	if rep := verify(t, st, r); rep.Broken != nil || rep.Records != 0 {
		t.Fatalf("empty chain: %+v", rep)
	}
	record(t, c, 10)
	rep := verify(t, st, r)
	if rep.Broken != nil || rep.Records != 10 || rep.Head.Seq != 10 {
		t.Fatalf("intact chain: records %d broken %v", rep.Records, rep.Broken)
	}
	recs, _ := st.ListAudit(context.Background(), store.AuditFilter{})
	if recs[1].Type != audit.LoginFailed || recs[1].Reason != "invalid_credentials" || recs[0].Detail["method"] != "password" || recs[0].Time.IsZero() {
		t.Errorf("fields not kept: %+v", recs[1])
	}
	// A different secret verifies nothing.
	if rep := verify(t, st, ring(t, secretB, "")); rep.Broken == nil || rep.Broken.Seq != 1 || rep.Broken.Kind != audit.BrokenEdited {
		t.Errorf("verified with the wrong secret: %+v", rep.Broken)
	}
}

// TestTamper edits, deletes, inserts and reorders records of a 10-record
// chain and checks Verify names the first broken record and what kind of
// break it is.
func TestTamper(t *testing.T) {
	forger := ring(t, secretB, "").Key(audit.KeyPurpose)
	for _, tc := range []struct {
		name     string
		tamper   func(recs []*store.AuditRecord) []*store.AuditRecord
		wantSeq  int64
		wantKind string
	}{
		{"edit a field", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[4].Email = "someone-else@example.test"
			return rs
		}, 5, audit.BrokenEdited},
		{"edit the type", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[6].Type = audit.LoginSucceeded + "x"
			return rs
		}, 7, audit.BrokenEdited},
		{"edit a detail value", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[2].Detail["method"] = "oauth:google"
			return rs
		}, 3, audit.BrokenEdited},
		{"add a detail entry", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[2].Detail["note"] = "x"
			return rs
		}, 3, audit.BrokenEdited},
		{"edit the time", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[8].Time = rs[8].Time.Add(-time.Hour)
			return rs
		}, 9, audit.BrokenEdited},
		{"edit the last record", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[9].IP = "203.0.113.9"
			return rs
		}, 10, audit.BrokenEdited},
		{"delete a record", func(rs []*store.AuditRecord) []*store.AuditRecord {
			return slices.Delete(rs, 4, 5)
		}, 5, audit.BrokenDeleted},
		{"delete several", func(rs []*store.AuditRecord) []*store.AuditRecord {
			return slices.Delete(rs, 3, 6)
		}, 4, audit.BrokenDeleted},
		{"delete the first", func(rs []*store.AuditRecord) []*store.AuditRecord {
			return rs[1:]
		}, 1, audit.BrokenDeleted},
		{"delete and renumber", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs = slices.Delete(rs, 4, 5)
			for i := 4; i < len(rs); i++ {
				rs[i].Seq--
			}
			return rs
		}, 5, audit.BrokenRelinked},
		{"insert a forged record, renumbering the rest", func(rs []*store.AuditRecord) []*store.AuditRecord {
			f := &store.AuditRecord{Seq: 5, Time: rs[3].Time, Type: audit.LoginSucceeded, UserID: "u9", PrevMAC: rs[3].MAC}
			f.MAC = audit.MAC(forger, f) // a MAC under a key the server does not have
			for _, r := range rs[4:] {
				r.Seq++
			}
			return slices.Insert(rs, 4, f)
		}, 5, audit.BrokenEdited},
		{"insert a record copied from elsewhere in the chain", func(rs []*store.AuditRecord) []*store.AuditRecord {
			c := *rs[1]
			c.Seq = 11
			return append(rs, &c)
		}, 11, audit.BrokenRelinked},
		{"append a forged record", func(rs []*store.AuditRecord) []*store.AuditRecord {
			f := &store.AuditRecord{Seq: 11, Time: rs[9].Time, Type: audit.UserCreated, PrevMAC: rs[9].MAC, MAC: bytes.Repeat([]byte{7}, 32)}
			return append(rs, f)
		}, 11, audit.BrokenEdited},
		{"reorder two records", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[3], rs[4] = rs[4], rs[3]
			rs[3].Seq, rs[4].Seq = 4, 5
			return rs
		}, 4, audit.BrokenRelinked},
		{"swap the contents of two records but keep their MACs", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[6].Email, rs[7].Email = rs[7].Email, rs[6].Email
			rs[6].Detail, rs[7].Detail = rs[7].Detail, rs[6].Detail
			return rs
		}, 7, audit.BrokenEdited},
		{"relink a record", func(rs []*store.AuditRecord) []*store.AuditRecord {
			rs[5].PrevMAC = rs[3].MAC
			return rs
		}, 6, audit.BrokenRelinked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.NewAudit()
			r := ring(t, secretA, "")
			record(t, newChain(t, st, r), 10)
			st.Tamper(tc.tamper)
			rep := verify(t, st, r)
			if rep.Broken == nil {
				t.Fatalf("tampering not detected (%d records verified)", rep.Records)
			}
			if rep.Broken.Seq != tc.wantSeq || rep.Broken.Kind != tc.wantKind {
				t.Fatalf("break %d %s (%s), want record %d %s", rep.Broken.Seq, rep.Broken.Kind, rep.Broken.Msg, tc.wantSeq, tc.wantKind)
			}
			if !strings.HasPrefix(rep.Broken.Msg, fmt.Sprintf("record %d: ", tc.wantSeq)) {
				t.Errorf("message does not lead with the record: %q", rep.Broken.Msg)
			}
			if rep.Records != tc.wantSeq-1 {
				t.Errorf("%d records reported intact before the break, want %d", rep.Records, tc.wantSeq-1)
			}
		})
	}
}

// TestTruncationNeedsAnAnchor: deleting records at the end leaves a valid
// shorter chain (documented limit); an anchor from outside the database
// (the file sink's last line) detects it, and detects a rewritten chain.
func TestTruncationNeedsAnAnchor(t *testing.T) {
	ctx := context.Background()
	st := memory.NewAudit()
	r := ring(t, secretA, "")
	record(t, newChain(t, st, r), 10)
	recs, _ := st.ListAudit(ctx, store.AuditFilter{})
	anchorSeq, anchorMAC := recs[9].Seq, recs[9].MAC

	rep := verify(t, st, r)
	if b, err := audit.CheckAnchor(ctx, st, rep, anchorSeq, anchorMAC); err != nil || b != nil {
		t.Fatalf("intact chain fails its anchor: %v %v", b, err)
	}
	st.Tamper(func(rs []*store.AuditRecord) []*store.AuditRecord { return rs[:7] })
	rep = verify(t, st, r)
	if rep.Broken != nil || rep.Records != 7 {
		t.Fatalf("truncated chain: %+v (the chain alone cannot see truncation)", rep.Broken)
	}
	b, err := audit.CheckAnchor(ctx, st, rep, anchorSeq, anchorMAC)
	if err != nil || b == nil || b.Kind != audit.BrokenTruncate || b.Seq != 8 {
		t.Fatalf("anchor check after truncation: %+v %v", b, err)
	}
	// An anchor that names an existing seq with another MAC: rewritten.
	b, _ = audit.CheckAnchor(ctx, st, rep, 7, anchorMAC)
	if b == nil || b.Seq != 7 {
		t.Fatalf("anchor with a wrong MAC: %+v", b)
	}
}

// TestRotation: records sealed before a secret rotation still verify with
// previous_secret set, records after it are sealed with the new secret,
// and dropping previous_secret makes the old records unverifiable.
func TestRotation(t *testing.T) {
	st := memory.NewAudit()
	old := ring(t, secretA, "")
	record(t, newChain(t, st, old), 4)
	rotated := ring(t, secretB, secretA)
	record(t, newChain(t, st, rotated), 3)

	rep := verify(t, st, rotated)
	if rep.Broken != nil || rep.Records != 7 || rep.PreviousKey != 4 {
		t.Fatalf("after rotation: records %d previous-key %d broken %v", rep.Records, rep.PreviousKey, rep.Broken)
	}
	if rep := verify(t, st, ring(t, secretB, "")); rep.Broken == nil || rep.Broken.Seq != 1 {
		t.Fatalf("without previous_secret the old records should not verify: %+v", rep.Broken)
	}
	// New records are not sealed with the old key.
	if rep := verify(t, st, old); rep.Broken == nil || rep.Broken.Seq != 5 {
		t.Fatalf("the old secret alone should fail at the first new record: %+v", rep.Broken)
	}
}

func TestConcurrentRecordsMakeOneChain(t *testing.T) {
	st := memory.NewAudit()
	r := ring(t, secretA, "")
	// Two chains over one store: like two processes sharing a database.
	c1, c2 := newChain(t, st, r), newChain(t, st, r)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := c1
			if g%2 == 1 {
				c = c2
			}
			record(t, c, 25)
		}()
	}
	wg.Wait()
	rep := verify(t, st, r)
	if rep.Broken != nil || rep.Records != 16*25 {
		t.Fatalf("records %d broken %v", rep.Records, rep.Broken)
	}
}

type failingSink struct{ n int }

func (*failingSink) Name() string                     { return "failing" }
func (s *failingSink) Write(*store.AuditRecord) error { s.n++; return errors.New("disk full") }
func (*failingSink) Close() error                     { return nil }

type failingStore struct{ store.AuditStore }

func (failingStore) AppendAudit(context.Context, func(*store.AuditRecord) (*store.AuditRecord, error)) (*store.AuditRecord, error) {
	return nil, store.ErrUnavailable
}

func TestSinkFailureIsNotFatal(t *testing.T) {
	st := memory.NewAudit()
	sink := &failingSink{}
	var reported []string
	c, err := audit.NewChain(st, audit.Options{
		Key: ring(t, secretA, "").Key(audit.KeyPurpose), Sinks: []audit.Sink{sink},
		OnSinkError: func(name string, err error) { reported = append(reported, name+": "+err.Error()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Record(context.Background(), audit.Event{Type: audit.Logout}); err != nil {
		t.Fatalf("a sink failure failed the record: %v", err)
	}
	if sink.n != 1 || len(reported) != 1 || reported[0] != "failing: disk full" {
		t.Errorf("sink failure not reported: %v", reported)
	}
	if got := c.SinkNames(); !slices.Equal(got, []string{"database", "failing"}) {
		t.Errorf("sink names %v", got)
	}
	// The store is the source of truth: its failure is the caller's error,
	// and the sinks do not get a record the store does not have.
	c2, _ := audit.NewChain(failingStore{st}, audit.Options{Key: ring(t, secretA, "").Key(audit.KeyPurpose), Sinks: []audit.Sink{sink}})
	if err := c2.Record(context.Background(), audit.Event{Type: audit.Logout}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("store failure: got %v", err)
	}
	if sink.n != 1 {
		t.Errorf("a sink got a record the store refused")
	}
}

func TestEventsAreCleaned(t *testing.T) {
	st := memory.NewAudit()
	r := ring(t, secretA, "")
	c := newChain(t, st, r)
	detail := map[string]string{"method": "password", "password": "hunter2hunter2", "reset_token": "abc", "Code": "123456", "session": "0011"}
	for i := range 30 {
		detail[fmt.Sprintf("zz%02d", i)] = "x" // sorted after the others: the first 16 keys are kept
	}
	err := c.Record(context.Background(), audit.Event{
		Type: audit.LoginFailed, Email: "bad\xffutf8@example.test", UserAgent: strings.Repeat("é", 1000), Detail: detail,
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := st.ListAudit(context.Background(), store.AuditFilter{})
	got := recs[0]
	for _, k := range []string{"password", "reset_token", "Code"} {
		if v, ok := got.Detail[k]; ok && v != "[redacted]" {
			t.Errorf("detail %s kept its value %q", k, v)
		}
	}
	if got.Detail["method"] != "password" || got.Detail["session"] != "0011" {
		t.Errorf("ordinary detail lost: %v", got.Detail)
	}
	if len(got.Detail) > 16 {
		t.Errorf("%d detail entries kept", len(got.Detail))
	}
	if !strings.Contains(got.Email, "\uFFFD") || len(got.UserAgent) > 512 || !strings.HasSuffix(got.UserAgent, "é") {
		t.Errorf("not cleaned: email %q, agent %d bytes", got.Email, len(got.UserAgent))
	}
	if rep := verify(t, st, r); rep.Broken != nil {
		t.Fatalf("cleaned record does not verify: %v", rep.Broken)
	}
}
