package store

import (
	"context"
	"time"
)

// AuditRecord is one link of the audit chain. MAC seals the record's fields
// and PrevMAC (the MAC of record Seq-1); package internal/audit computes and
// checks it, the stores only keep it.
type AuditRecord struct {
	Seq       int64 // 1, 2, 3... without gaps
	Time      time.Time
	Type      string
	UserID    string
	Email     string
	Actor     string
	IP        string
	UserAgent string
	Reason    string
	Detail    map[string]string
	PrevMAC   []byte // nil for the first record
	MAC       []byte
}

// AuditFilter selects records for listing. Zero fields do not filter.
type AuditFilter struct {
	// UserID and Email select records about or by one account: a record
	// matches when its user id or its actor equals UserID (what an admin
	// did to other accounts carries the admin's id as actor), or its
	// email equals Email (failed logins of an unknown account carry only
	// the email).
	UserID string
	Email  string
	// Since keeps records at or after this time.
	Since time.Time
	// AfterSeq keeps records with a larger sequence number (paging;
	// 0 and below do not filter).
	AfterSeq int64
	// Limit caps the number of records (0: no cap).
	Limit int
	// Latest returns the last Limit matching records instead of the
	// first; the result is still in ascending sequence order.
	Latest bool
}

// AuditStore keeps the audit chain. Appends from several goroutines and
// several processes sharing the store produce one linear chain.
type AuditStore interface {
	// AppendAudit atomically reads the last record (nil when the chain is
	// empty), calls seal to build the next one from it, and stores the
	// result, whose Seq must be the head's Seq + 1. No other append can
	// come between the read and the write. seal may be called more than
	// once if the backend retries; it must not have side effects.
	AppendAudit(ctx context.Context, seal func(head *AuditRecord) (*AuditRecord, error)) (*AuditRecord, error)
	// ListAudit returns the matching records in ascending Seq order.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)
}
