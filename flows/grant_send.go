package flows

import (
	"net/http"
	"net/url"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// grantSend is one "send me a link" flow (forgot-password, passwordless):
// what it audits, the grant it issues, where the message goes, and the
// portal page the link opens.
type grantSend struct {
	event   string
	kind    grantKind
	channel func(u *store.User, byPhone bool) (channel, to string)
	// data rides in the grant (passwordless: the checked return URL).
	data     string
	message  string
	linkPath string
}

// sendGrant issues and queues gs's grant when u may have one, and audits
// the request either way, with the reason it sent nothing. u is nil for
// an unknown identifier; the caller answers alike whatever happens here.
func (p *portal) sendGrant(r *http.Request, u *store.User, ident string, byPhone bool, gs grantSend) error {
	ctx := r.Context()
	ev := audit.Event{Type: gs.event, Email: auditIdentifier(ident), Detail: map[string]string{}}
	if byPhone {
		ev.Detail["identifier"] = "phone"
	}
	defer func() { p.s.audit(r, ev) }()
	if u == nil {
		ev.Reason = "unknown_account"
		return nil
	}
	ev.UserID, ev.Email = u.ID, u.Email
	// A registration still pending may reset: that is how the owner of
	// an address someone else registered takes it over (the mail proves
	// the mailbox, the reset replaces the squatter's password).
	if !u.SignsIn() {
		ev.Reason = "disabled"
		return nil
	}
	channel, to := gs.channel(u, byPhone)
	if channel == "" {
		ev.Reason = "no_address"
		return nil
	}
	ev.Detail["channel"] = channel
	g, err := p.s.issueGrant(ctx, gs.kind, u, gs.data)
	if err != nil {
		ev.Reason = "store_error"
		return err
	}
	data := map[string]string{notify.DataCode: g.Code, notify.DataName: u.Name, notify.DataExpires: humanDuration(gs.kind.TTL)}
	if channel == notify.Email {
		// SMS carries the code only.
		data[notify.DataLink] = p.portalURL(r, gs.linkPath+"?token="+url.QueryEscape(g.Token))
	}
	if err := p.s.notify(ctx, notify.Message{Kind: gs.message, Channel: channel, To: to, UserID: u.ID, Data: data}); err != nil {
		ev.Reason = "not_queued"
		return err
	}
	return nil
}
