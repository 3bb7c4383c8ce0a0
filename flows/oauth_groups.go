package flows

import (
	"net/http"
	"slices"
	"strings"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/oauth"
	"github.com/caddyauth/gateway/store"
)

// Groups from an identity provider (claim_groups) replace the account's at
// every login, so a provider can grant or remove admin: each change is
// audited like an administrator's, with the provider as the actor
// (issue 9, item 13).

// groupSource names the provider as the source of a group change:
// oidc:<name> for a generic OIDC provider, oauth:<preset> otherwise.
func groupSource(prov *oauth.Provider) string {
	if prov.Kind() == oauth.KindOIDC {
		return "oidc:" + prov.Name()
	}
	return "oauth:" + prov.Name()
}

// groupsDiffer reports a change worth storing and recording; nil and empty
// are the same (no groups).
func groupsDiffer(before, after []string) bool {
	return !slices.Equal(before, after) && !(len(before) == 0 && len(after) == 0)
}

// auditGroupChange records that prov changed u's groups from before to
// u.Groups. Call it after the change is stored, and only when groupsDiffer.
func (p *portal) auditGroupChange(r *http.Request, u *store.User, before []string, prov *oauth.Provider) {
	src := groupSource(prov)
	p.s.audit(r, audit.Event{Type: audit.UserGroupsChanged, UserID: u.ID, Email: u.Email, Actor: src,
		Detail: map[string]string{"before": joinGroups(before), "after": joinGroups(u.Groups), "source": src}})
}

// joinGroups is a group list as one audit value: comma-separated (group
// names hold no comma, ValidGroup), "" for none.
func joinGroups(g []string) string { return strings.Join(g, ",") }
