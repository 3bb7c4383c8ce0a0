package flows

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// lockedNotice tells the account owner that sign-in from an address was
// locked after repeated failures (only for accounts that exist: an unknown
// identifier has nobody to tell). Delivery is the outbox's job; a refusal
// is logged by notify.
func (p *portal) lockedNotice(ctx context.Context, u *store.User, ip string) {
	if u == nil || u.Email == "" {
		return
	}
	lim := p.s.limits.lockoutDuration
	data := map[string]string{"ip": ip}
	if lim > 0 {
		data["until"] = p.s.cfg.Now().Add(lim).UTC().Format(time.RFC3339)
	}
	_ = p.s.notify(ctx, notify.Message{Kind: notify.KindAccountLocked, Channel: notify.Email, To: u.Email, UserID: u.ID, Data: data})
}

// Unlock lifts the login lockout of an email on every address and reports
// how many (email, address) pairs were locked.
func (s *Service) Unlock(ctx context.Context, email string) (int, error) {
	id := NormalizeEmail(email)
	n, err := s.limits.lockout.UnlockIdentifier(ctx, id, s.cfg.Now())
	if err != nil {
		return n, err
	}
	k, err := s.unlockAdminFloor(ctx, id)
	return n + k, err
}
