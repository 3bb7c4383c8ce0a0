package flows

import "context"

// release refunds a lockout reservation whose check ended without a
// verdict (deferred after Reserve; a no-op once Failed or Succeeded ran).
// A refund that cannot be written leaves the attempt counted: the safe
// side.
func (p *portal) release(ctx context.Context, att *checkAttempt) {
	if err := att.Release(ctx); err != nil {
		p.s.log.Warn("lockout reservation not released", zapErr(err))
		p.s.obs.StoreError("lockout")
	}
}
