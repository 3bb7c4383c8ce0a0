package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// sealNext is a stand-in for the audit chain's sealing: the next seq, the
// head's MAC as PrevMAC, and a MAC that is a hash of both (the stores do
// not care how MACs are made, only that they keep them).
func sealNext(tmpl store.AuditRecord) func(head *store.AuditRecord) (*store.AuditRecord, error) {
	return func(head *store.AuditRecord) (*store.AuditRecord, error) {
		r := tmpl
		r.Seq, r.PrevMAC = 1, nil
		if head != nil {
			r.Seq, r.PrevMAC = head.Seq+1, bytes.Clone(head.MAC)
		}
		sum := sha256.Sum256(fmt.Appendf(r.PrevMAC, "%d/%s", r.Seq, r.Type))
		r.MAC = sum[:]
		return &r, nil
	}
}

func appendRec(t *testing.T, s store.AuditStore, tmpl store.AuditRecord) *store.AuditRecord {
	t.Helper()
	rec, err := s.AppendAudit(context.Background(), sealNext(tmpl))
	if err != nil {
		t.Fatalf("append %s: %v", tmpl.Type, err)
	}
	return rec
}

func listSeqs(t *testing.T, s store.AuditStore, f store.AuditFilter) []int64 {
	t.Helper()
	recs, err := s.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatalf("list %+v: %v", f, err)
	}
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

// checkChain fails unless recs are seq 1..n, each linked to the one before.
func checkChain(t *testing.T, recs []*store.AuditRecord, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && !bytes.Equal(r.PrevMAC, recs[i-1].MAC) {
			t.Fatalf("record %d does not link to record %d", r.Seq, recs[i-1].Seq)
		}
	}
}

// TestAuditStore is the conformance suite of store.AuditStore. open must
// return a fresh, empty store.
func TestAuditStore(t *testing.T, open func(t *testing.T) store.AuditStore) {
	ctx := context.Background()

	t.Run("append and list keep every field", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if got := listSeqs(t, s, store.AuditFilter{}); len(got) != 0 {
			t.Fatalf("fresh store lists %v", got)
		}
		at := time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
		want := store.AuditRecord{
			Time: at, Type: "login.failed", UserID: "u1", Email: "a@example.test", Actor: "cli",
			IP: "192.0.2.1", UserAgent: "agent/1 (\"quoted\" ünïcode)", Reason: "invalid_credentials",
			Detail: map[string]string{"method": "password", "z": "<&>", "a": "\u2028"},
		}
		var seenHead []*store.AuditRecord
		first, err := s.AppendAudit(ctx, func(head *store.AuditRecord) (*store.AuditRecord, error) {
			seenHead = append(seenHead, head)
			return sealNext(want)(head)
		})
		must(t, "append", err)
		if len(seenHead) == 0 || seenHead[len(seenHead)-1] != nil {
			t.Fatalf("seal of the first record saw head %v, want nil", seenHead)
		}
		if first.Seq != 1 || len(first.PrevMAC) != 0 {
			t.Fatalf("first record: seq %d prev %x", first.Seq, first.PrevMAC)
		}
		second := appendRec(t, s, store.AuditRecord{Time: at, Type: "logout"})
		recs, err := s.ListAudit(ctx, store.AuditFilter{})
		must(t, "list", err)
		checkChain(t, recs, 2)
		got := recs[0]
		checkTime(t, "Time", got.Time, at)
		if got.Type != want.Type || got.UserID != want.UserID || got.Email != want.Email || got.Actor != want.Actor ||
			got.IP != want.IP || got.UserAgent != want.UserAgent || got.Reason != want.Reason {
			t.Errorf("record read back %+v, want %+v", got, want)
		}
		if !maps.Equal(got.Detail, want.Detail) {
			t.Errorf("detail %v, want %v", got.Detail, want.Detail)
		}
		if !bytes.Equal(got.MAC, first.MAC) || len(got.MAC) != sha256.Size {
			t.Errorf("MAC %x, want %x", got.MAC, first.MAC)
		}
		if !bytes.Equal(recs[1].MAC, second.MAC) || !bytes.Equal(recs[1].PrevMAC, first.MAC) {
			t.Errorf("second record MACs do not round-trip")
		}
		if len(recs[1].Detail) != 0 {
			t.Errorf("empty detail reads back as %v", recs[1].Detail)
		}
		// The caller's copy is not the stored one.
		recs[0].Detail["method"] = "changed"
		again, _ := s.ListAudit(ctx, store.AuditFilter{Limit: 1})
		if again[0].Detail["method"] != "password" {
			t.Errorf("mutating a listed record changed the store")
		}
	})

	t.Run("a failing or wrong seal stores nothing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		appendRec(t, s, store.AuditRecord{Time: time.Now(), Type: "a"})
		boom := errors.New("boom")
		if _, err := s.AppendAudit(ctx, func(*store.AuditRecord) (*store.AuditRecord, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("seal error: got %v", err)
		}
		bad := func(head *store.AuditRecord) (*store.AuditRecord, error) {
			r, _ := sealNext(store.AuditRecord{Time: time.Now(), Type: "skip"})(head)
			r.Seq += 5
			return r, nil
		}
		if _, err := s.AppendAudit(ctx, bad); err == nil {
			t.Errorf("a record that skips sequence numbers was stored")
		}
		if got := listSeqs(t, s, store.AuditFilter{}); len(got) != 1 {
			t.Errorf("after failed appends the store has %v", got)
		}
	})

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, r := range []store.AuditRecord{
			{Type: "login.succeeded", UserID: "u1", Email: "a@x.test"},            // 1
			{Type: "login.failed", Email: "a@x.test"},                             // 2: unknown account, email only
			{Type: "login.succeeded", UserID: "u2", Email: "b@x.test"},            // 3
			{Type: "logout", UserID: "u1", Email: "a@x.test"},                     // 4
			{Type: "user.disabled", UserID: "u1", Email: "old@x.test"},            // 5
			{Type: "login.failed", UserID: "u2", Email: "b@x.test"},               // 6
			{Type: "user.disabled", UserID: "u2", Email: "b@x.test", Actor: "u1"}, // 7: u1 acted on u2
			{Type: "auth_method.disabled", Actor: "u1"},                           // 8: u1 acted on no account
		} {
			r.Time = t0.Add(time.Duration(i) * time.Minute)
			appendRec(t, s, r)
		}
		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			want []int64
		}{
			{"all", store.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8}},
			{"user id (about or by)", store.AuditFilter{UserID: "u1"}, []int64{1, 4, 5, 7, 8}},
			{"email", store.AuditFilter{Email: "a@x.test"}, []int64{1, 2, 4}},
			{"user id or email", store.AuditFilter{UserID: "u1", Email: "a@x.test"}, []int64{1, 2, 4, 5, 7, 8}},
			{"since", store.AuditFilter{Since: t0.Add(3 * time.Minute)}, []int64{4, 5, 6, 7, 8}},
			{"after seq", store.AuditFilter{AfterSeq: 4}, []int64{5, 6, 7, 8}},
			{"first n", store.AuditFilter{Limit: 2}, []int64{1, 2}},
			{"latest n", store.AuditFilter{Limit: 2, Latest: true}, []int64{7, 8}},
			{"latest n of a user", store.AuditFilter{UserID: "u1", Email: "a@x.test", Limit: 3, Latest: true}, []int64{5, 7, 8}},
			{"combined", store.AuditFilter{UserID: "u2", Since: t0.Add(time.Minute), AfterSeq: 1, Limit: 5}, []int64{3, 6, 7}},
			{"no match", store.AuditFilter{UserID: "nobody"}, []int64{}},
		} {
			if got := listSeqs(t, s, tc.f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})

	t.Run("concurrent appends make one linear chain", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, err := s.AppendAudit(ctx, sealNext(store.AuditRecord{Time: time.Now(), Type: fmt.Sprintf("w%d.%d", w, i)})); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("append: %v", err)
		}
		recs, err := s.ListAudit(ctx, store.AuditFilter{})
		must(t, "list", err)
		checkChain(t, recs, workers*each)
	})
}
