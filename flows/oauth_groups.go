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
	return store.AuthOAuth(prov.Name())
}

// groupsDiffer reports a change worth storing and recording; nil and empty
// are the same (no groups).
func groupsDiffer(before, after []string) bool {
	return !slices.Equal(before, after) && !(len(before) == 0 && len(after) == 0)
}

// auditGroupChange records that prov changed u's groups from before to
// u.Groups. Call it after the change is stored, and only when groupsDiffer.
// Besides the two lists it names what was added and removed and whether
// the admin group was granted or removed, and flags a list too long for
// the record to keep whole: a grant of admin at the end of a long claim
// must not be lost to the cut.
func (p *portal) auditGroupChange(r *http.Request, u *store.User, before []string, prov *oauth.Provider) {
	src := groupSource(prov)
	added, removed := groupDiff(before, u.Groups)
	d := map[string]string{
		"before": joinGroups(before), "after": joinGroups(u.Groups),
		"added": joinGroups(added), "removed": joinGroups(removed), "source": src,
	}
	switch admin := p.s.cfg.AdminGroup; {
	case slices.Contains(added, admin):
		d["admin"] = "granted"
	case slices.Contains(removed, admin):
		d["admin"] = "removed"
	}
	for _, v := range d {
		if len(v) > audit.MaxDetailText {
			d["truncated"] = "true"
		}
	}
	p.s.audit(r, audit.Event{Type: audit.UserGroupsChanged, UserID: u.ID, Email: u.Email, Actor: src, Detail: d})
}

// groupDiff lists the groups in after but not before, and the reverse.
func groupDiff(before, after []string) (added, removed []string) {
	for _, g := range after {
		if !slices.Contains(before, g) {
			added = append(added, g)
		}
	}
	for _, g := range before {
		if !slices.Contains(after, g) {
			removed = append(removed, g)
		}
	}
	return added, removed
}

// joinGroups is a group list as one audit value: comma-separated (group
// names hold no comma, ValidGroup), "" for none.
func joinGroups(g []string) string { return strings.Join(g, ",") }
