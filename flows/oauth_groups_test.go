package flows

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/oauth"
	"github.com/caddyauth/gateway/store"
)

// TestOAuthGroupChangesAudited: every change a provider's groups claim
// makes to an account is in the audit trail with before, after and source
// (issue 9, item 13); a login that changes nothing records nothing.
func TestOAuthGroupChangesAudited(t *testing.T) {
	gh := githubCfg()
	gh.ClaimGroups = "groups"
	gh.Signup = true
	corp := oauth.Config{Name: "corp", Kind: oauth.KindOIDC, Issuer: "https://idp.invalid", ClientID: "id", ClientSecret: "s", ClaimGroups: "groups", Signup: true}
	_, _, rec, svc, mem := oauthServiceFull(t, Config{}, gh, corp)
	p := &portal{s: svc, base: "/auth"}
	ctx := context.Background()
	bob := &store.User{ID: "bob", Email: "bob@example.com", Status: store.StatusActive, Groups: []string{"staff"}}
	if err := mem.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	groupEvents := func() []audit.Event {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var out []audit.Event
		for _, e := range rec.events {
			if e.Type == audit.UserGroupsChanged {
				out = append(out, e)
			}
		}
		return out
	}
	type change struct{ user, before, after, source string }
	for _, tc := range []struct {
		name string
		prov string
		id   oauth.Identity
		want *change // nil: no group event
	}{
		{
			"link by email grants admin", "github",
			oauth.Identity{Subject: "1", Email: "bob@example.com", EmailVerified: true, Groups: []string{"eng", "admin"}},
			&change{"bob", "staff", "eng,admin", "oauth:github"},
		},
		{"same groups again: nothing", "github", oauth.Identity{Subject: "1", Email: "bob@example.com", Groups: []string{"eng", "admin"}}, nil},
		{"claim not configured (nil): nothing", "github", oauth.Identity{Subject: "1", Email: "bob@example.com"}, nil},
		{
			"admin removed", "github",
			oauth.Identity{Subject: "1", Email: "bob@example.com", Groups: []string{"eng"}},
			&change{"bob", "eng,admin", "eng", "oauth:github"},
		},
		{
			"invalid name dropped: all groups removed", "github",
			oauth.Identity{Subject: "1", Email: "bob@example.com", Groups: []string{"helpdesk admin"}},
			&change{"bob", "eng", "", "oauth:github"},
		},
		{"empty stays empty: nothing", "github", oauth.Identity{Subject: "1", Email: "bob@example.com", Groups: []string{}}, nil},
		{
			"oidc provider is the source", "corp",
			oauth.Identity{Subject: "c1", Email: "bob@example.com", EmailVerified: true, Groups: []string{"ops"}},
			&change{"bob", "", "ops", "oidc:corp"},
		},
		{
			"sign-up with groups", "corp",
			oauth.Identity{Subject: "c2", Email: "new@example.com", EmailVerified: true, Groups: []string{"admin"}},
			&change{"", "", "admin", "oidc:corp"},
		},
		{"sign-up without groups: nothing", "corp", oauth.Identity{Subject: "c3", Email: "new2@example.com", EmailVerified: true, Groups: []string{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(groupEvents())
			id := tc.id
			u, e, err := p.resolveOAuthUser(req, svc.oauth.providers[tc.prov], &id)
			if err != nil || e != nil {
				t.Fatalf("resolve: %v %v", e, err)
			}
			got := groupEvents()[before:]
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("group events %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d group events %+v, want 1", len(got), got)
			}
			ev := got[0]
			wantUser := tc.want.user
			if wantUser == "" {
				wantUser = u.ID
			}
			if ev.UserID != wantUser || ev.Email != u.Email || ev.Actor != tc.want.source ||
				ev.Detail["before"] != tc.want.before || ev.Detail["after"] != tc.want.after || ev.Detail["source"] != tc.want.source {
				t.Errorf("event %+v, want user %s before %q after %q source %q", ev, wantUser, tc.want.before, tc.want.after, tc.want.source)
			}
			stored, err := mem.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := joinGroups(stored.Groups); got != tc.want.after {
				t.Errorf("stored groups %q, event says %q", got, tc.want.after)
			}
		})
	}
}

// TestOAuthGroupChangeDetail: the record names what was added and
// removed, flags the admin group, and says when a list was too long for
// the audit trail to keep whole, so a grant of admin at the end of a long
// claim is never hidden by the cut.
func TestOAuthGroupChangeDetail(t *testing.T) {
	gh := githubCfg()
	gh.ClaimGroups = "groups"
	_, _, rec, svc, mem := oauthServiceFull(t, Config{}, gh)
	p := &portal{s: svc, base: "/auth"}
	ctx := context.Background()
	dora := &store.User{ID: "dora", Email: "dora@example.com", Status: store.StatusActive, Groups: []string{"staff", "eng"}}
	if err := mem.CreateUser(ctx, dora); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	long := []string{"staff"}
	for i := range 40 {
		long = append(long, fmt.Sprintf("team-%02d-with-a-long-name", i))
	}
	long = append(long, svc.cfg.AdminGroup)
	for _, tc := range []struct {
		name   string
		groups []string
		want   map[string]string
	}{
		{"admin granted", []string{"staff", "admin"}, map[string]string{"before": "staff,eng", "after": "staff,admin", "added": "admin", "removed": "eng", "admin": "granted", "truncated": ""}},
		{"admin removed", []string{"staff"}, map[string]string{"before": "staff,admin", "after": "staff", "added": "", "removed": "admin", "admin": "removed"}},
		{"no admin change", []string{"staff", "ops"}, map[string]string{"added": "ops", "removed": "", "admin": ""}},
		{"long claim ending in admin", long, map[string]string{"removed": "ops", "admin": "granted", "truncated": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := oauth.Identity{Subject: "d", Email: "dora@example.com", EmailVerified: true, Groups: tc.groups}
			if _, e, err := p.resolveOAuthUser(req, svc.oauth.providers["github"], &id); err != nil || e != nil {
				t.Fatalf("resolve: %v %v", e, err)
			}
			ev := rec.find(audit.UserGroupsChanged, "dora")
			if ev == nil {
				t.Fatal("no group event")
			}
			for k, want := range tc.want {
				if got := ev.Detail[k]; got != want {
					t.Errorf("detail %s = %q, want %q", k, got, want)
				}
			}
			if len(ev.Detail) > 16 {
				t.Errorf("%d detail entries: the audit trail keeps 16", len(ev.Detail))
			}
		})
	}
}
