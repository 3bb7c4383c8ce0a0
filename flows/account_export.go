package flows

import (
	"net/http"
	"time"

	"github.com/caddyauth/gateway/store"
)

// exportAuditLimit caps the audit records in one export: the newest ones
// are kept, and audit_truncated says when older ones were left out (an
// operator can give them all: `caddy auth audit tail --email`).
const exportAuditLimit = 10000

var errExportLimited = apiErr(http.StatusTooManyRequests, CodeRateLimited, "You downloaded your data several times just now. Try again later.")

// accountExport is everything the gateway holds about the caller (GET
// /auth/account/export), in the shapes the other self-service endpoints
// show. Nothing in it is a credential or opens one: no password hash, no
// TOTP secret, no recovery code, no session, trust or API key token nor
// their hashes, no audit MAC.
type accountExport struct {
	ExportedAt     string         `json:"exported_at"`
	Profile        exportProfile  `json:"profile"`
	Identities     []exportLink   `json:"identities"`
	SecondFactors  exportFactors  `json:"second_factors"`
	Sessions       []sessionView  `json:"sessions"`
	APIKeys        []apiKeyView   `json:"api_keys"`
	Audit          []exportRecord `json:"audit"`
	AuditTruncated bool           `json:"audit_truncated"`
}

type exportProfile struct {
	ID                 string   `json:"id"`
	Email              string   `json:"email"`
	Name               string   `json:"name"`
	Phone              string   `json:"phone"`
	Groups             []string `json:"groups"`
	Status             string   `json:"status"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	EmailVerifiedAt    *string  `json:"email_verified_at"`
	PhoneVerifiedAt    *string  `json:"phone_verified_at"`
	PasswordChangedAt  *string  `json:"password_changed_at"`
	HasPassword        bool     `json:"has_password"`
	MustChangePassword bool     `json:"must_change_password"`
}

type exportLink struct {
	Provider    string  `json:"provider"`
	Subject     string  `json:"subject"`
	Email       string  `json:"email"`
	CreatedAt   string  `json:"created_at"`
	LastLoginAt *string `json:"last_login_at"`
}

type exportFactors struct {
	TOTP              []exportTOTP  `json:"totp"`
	RecoveryCodesLeft int           `json:"recovery_codes_left"`
	TrustedDevices    []trustedView `json:"trusted_devices"`
}

type exportTOTP struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	CreatedAt   string  `json:"created_at"`
	ConfirmedAt *string `json:"confirmed_at"`
}

// exportRecord is an audit record without its MACs (they prove the chain
// to the operator and mean nothing to the user).
type exportRecord struct {
	Seq       int64             `json:"seq"`
	Time      string            `json:"time"`
	Type      string            `json:"type"`
	UserID    string            `json:"user_id,omitempty"`
	Email     string            `json:"email,omitempty"`
	Actor     string            `json:"actor,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// exportAccount: GET /auth/account/export, a JSON download. A full session
// is enough (it shows what the other GET endpoints show, in one file); a
// per-user bucket bounds how often, since it reads every table.
func (p *portal) exportAccount(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx := r.Context()
	now := p.s.cfg.Now()
	if ok, wait, err := p.s.limits.accountExport.Allow(ctx, c.id.User.ID, now); err != nil {
		p.s.storeFailure(w, r, "rate limit", err)
		return
	} else if !ok {
		p.s.obs.Limited(BucketAccountExport)
		retryAfter(w, wait)
		p.s.failJSON(w, r, errExportLimited)
		return
	}
	// A fresh row: the session cache may hold the user for a few seconds.
	u, err := p.s.deps.Users.UserByID(ctx, c.id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "account export", err)
		return
	}
	out, err := p.gatherExport(r, u, c.id.Session.ID, now)
	if err != nil {
		p.s.storeFailure(w, r, "account export", err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="account.json"`)
	writeJSON(w, http.StatusOK, out)
}

// gatherExport reads what the stores hold about u; any read failing fails
// the export (a partial file would look complete).
func (p *portal) gatherExport(r *http.Request, u *store.User, current string, now time.Time) (*accountExport, error) {
	ctx := r.Context()
	out := &accountExport{ExportedAt: now.UTC().Format(time.RFC3339), Profile: exportProfile{
		ID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone, Groups: append([]string{}, u.Groups...), Status: u.Status,
		CreatedAt: stamp(u.CreatedAt), UpdatedAt: stamp(u.UpdatedAt),
		EmailVerifiedAt: optStamp(u.EmailVerifiedAt), PhoneVerifiedAt: optStamp(u.PhoneVerifiedAt),
		PasswordChangedAt: optStamp(u.PasswordChangedAt),
		HasPassword:       u.PasswordHash != "", MustChangePassword: u.MustChangePassword,
	}}
	out.Identities = []exportLink{}
	if p.s.deps.Identities != nil {
		links, err := p.s.deps.Identities.UserIdentities(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			out.Identities = append(out.Identities, exportLink{
				Provider: l.Provider, Subject: l.Subject, Email: l.Email, CreatedAt: stamp(l.CreatedAt), LastLoginAt: optStamp(l.LastLoginAt),
			})
		}
	}
	devices, err := p.s.deps.MFA.ListTOTP(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out.SecondFactors.TOTP = []exportTOTP{}
	for _, d := range devices {
		out.SecondFactors.TOTP = append(out.SecondFactors.TOTP, exportTOTP{ID: d.ID, Name: d.Name, CreatedAt: stamp(d.CreatedAt), ConfirmedAt: optStamp(d.ConfirmedAt)})
	}
	if out.SecondFactors.RecoveryCodesLeft, err = p.s.deps.MFA.CountRecoveryCodes(ctx, u.ID); err != nil {
		return nil, err
	}
	if out.SecondFactors.TrustedDevices, err = p.trustedViews(ctx, u.ID); err != nil {
		return nil, err
	}
	sessions, err := p.s.deps.Sessions.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out.Sessions = sessionViews(sessions, current)
	out.APIKeys = []apiKeyView{}
	if p.s.deps.APIKeys != nil {
		keys, err := p.s.Accounts().APIKeysOf(ctx, u)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			out.APIKeys = append(out.APIKeys, viewAPIKey(k))
		}
	}
	out.Audit = []exportRecord{}
	if p.s.deps.AuditLog != nil {
		// About the account (its id or its email, as `audit tail
		// --email` selects) and what it did to others as an actor.
		recs, err := p.s.deps.AuditLog.ListAudit(ctx, store.AuditFilter{UserID: u.ID, Email: u.Email, Limit: exportAuditLimit, Latest: true})
		if err != nil {
			return nil, err
		}
		out.AuditTruncated = len(recs) == exportAuditLimit
		for _, rec := range recs {
			out.Audit = append(out.Audit, exportRecord{
				Seq: rec.Seq, Time: stamp(rec.Time), Type: rec.Type, UserID: rec.UserID, Email: rec.Email, Actor: rec.Actor,
				IP: rec.IP, UserAgent: rec.UserAgent, Reason: rec.Reason, Detail: rec.Detail,
			})
		}
	}
	return out, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// optStamp is nil for a time never set.
func optStamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}
