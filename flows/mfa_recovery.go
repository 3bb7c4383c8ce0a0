package flows

import (
	"context"
	"net/http"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/totp"
)

// recoveryHash is the stored form of a recovery code: SHA-256 of the user
// id and the normalised code. At 79 bits a code needs no key or stretching
// against a dump, and not depending on the master secret keeps the codes
// valid through a secret rotation, when they matter most.
func recoveryHash(userID, norm string) string { return keys.HashToken(userID + ":" + norm) }

func (p *portal) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := totp.NewRecoveryCodes()
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = recoveryHash(userID, totp.NormalizeRecovery(c))
	}
	return codes, p.s.deps.MFA.ReplaceRecoveryCodes(ctx, userID, hashes)
}

func (p *portal) recoveryCount(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	n, err := p.s.deps.MFA.CountRecoveryCodes(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "recovery codes", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"remaining": n})
}

func (p *portal) regenerateRecovery(w http.ResponseWriter, r *http.Request, c *caller) {
	id, st := c.id, c.mfa
	if !st.enrolled {
		p.s.writeError(w, r, errMFANotEnrolled)
		return
	}
	codes, err := p.newRecoveryCodes(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "recovery codes", err)
		return
	}
	p.s.audit(r, audit.Event{Type: audit.RecoveryCodesNew, UserID: id.User.ID, Email: id.User.Email})
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
		return
	}
	p.s.render(w, r, http.StatusOK, &mfaCodesView{layout: layout{Title: "Save your recovery codes"}, RecoveryCodes: codes})
}
