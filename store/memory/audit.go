package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/caddyauth/gateway/store"
)

// Audit is an in-process store.AuditStore for tests and development. It is
// a type of its own (not part of Store) so that tests can pair it with any
// other backend.
type Audit struct {
	mu   sync.Mutex
	recs []*store.AuditRecord // ascending seq
}

var _ store.AuditStore = (*Audit)(nil)

// NewAudit returns an empty audit chain store.
func NewAudit() *Audit { return &Audit{} }

func copyAudit(r *store.AuditRecord) *store.AuditRecord {
	c := *r
	c.Detail = maps.Clone(r.Detail)
	c.PrevMAC = slices.Clone(r.PrevMAC)
	c.MAC = slices.Clone(r.MAC)
	c.Time = auditTime(r.Time)
	return &c
}

// AppendAudit implements store.AuditStore; the mutex makes read-head and
// insert one step.
func (a *Audit) AppendAudit(_ context.Context, seal func(head *store.AuditRecord) (*store.AuditRecord, error)) (*store.AuditRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var head *store.AuditRecord
	want := int64(1)
	if n := len(a.recs); n > 0 {
		head = copyAudit(a.recs[n-1])
		want = head.Seq + 1
	}
	rec, err := seal(head)
	if err != nil {
		return nil, fmt.Errorf("memory: append audit: %w", err)
	}
	if rec.Seq != want {
		return nil, fmt.Errorf("memory: append audit: sealed seq %d, want %d", rec.Seq, want)
	}
	c := copyAudit(rec)
	a.recs = append(a.recs, c)
	return copyAudit(c), nil
}

// ListAudit implements store.AuditStore.
func (a *Audit) ListAudit(_ context.Context, f store.AuditFilter) ([]*store.AuditRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*store.AuditRecord
	for _, r := range a.recs {
		if f.UserID != "" || f.Email != "" {
			byID := f.UserID != "" && (r.UserID == f.UserID || r.Actor == f.UserID)
			if !byID && !(f.Email != "" && r.Email == f.Email) {
				continue
			}
		}
		if !f.Since.IsZero() && r.Time.Before(auditTime(f.Since)) {
			continue
		}
		if f.AfterSeq > 0 && r.Seq <= f.AfterSeq {
			continue
		}
		out = append(out, copyAudit(r))
	}
	if f.Limit > 0 && len(out) > f.Limit {
		if f.Latest {
			out = out[len(out)-f.Limit:]
		} else {
			out = out[:f.Limit]
		}
	}
	return out, nil
}

// Tamper gives tests direct access to the stored records (to edit, delete,
// insert or reorder them) under the store's lock.
func (a *Audit) Tamper(fn func(recs []*store.AuditRecord) []*store.AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = fn(a.recs)
}

// auditTime keeps millisecond precision, like the SQL store.
func auditTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
