package caddyauth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/metrics"
	"github.com/caddyauth/gateway/store"
)

// AuditConfig is the `audit` option. The database always keeps the chain;
// these are extra copies.
type AuditConfig struct {
	// File appends one JSON line per record (created 0600). Placeholders
	// are resolved.
	File string `json:"file,omitempty"`
	// Webhook POSTs each record as JSON, signed.
	Webhook *AuditWebhookConfig `json:"webhook,omitempty"`
}

// AuditWebhookConfig is the `webhook` sub-option of `audit`.
type AuditWebhookConfig struct {
	URL string `json:"url"`
	// Secret keys the X-Caddyauth-Signature HMAC of each body; placeholders
	// such as {env.AUDIT_WEBHOOK_SECRET} are resolved.
	Secret string `json:"secret"`
}

// parseAudit parses
//
//	audit {
//	    file <path>
//	    webhook <url> {
//	        secret <secret>
//	    }
//	}
func parseAudit(d *caddyfile.Dispenser) (*AuditConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("caddyauth: audit takes a block ({ file <path>  webhook <url> { secret <s> } }), not %q: the database trail is always on", d.Val())
	}
	c := new(AuditConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "file":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			c.File = v
		case "webhook":
			if !d.NextArg() {
				return nil, d.Err("caddyauth: audit webhook needs a URL")
			}
			w := &AuditWebhookConfig{URL: d.Val()}
			if err := checkAuditWebhookURL(w.URL); err != nil {
				return nil, d.Err(err.Error())
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			for n2 := d.Nesting(); d.NextBlock(n2); {
				switch d.Val() {
				case "secret":
					v, err := oneArg(d)
					if err != nil {
						return nil, err
					}
					w.Secret = v
				default:
					return nil, d.Errf("caddyauth: unknown audit webhook option %q (want secret)", d.Val())
				}
			}
			if err := checkAuditWebhook(w); err != nil {
				return nil, d.Err(err.Error())
			}
			c.Webhook = w
		default:
			return nil, d.Errf("caddyauth: unknown audit option %q (want file or webhook)", opt)
		}
	}
	return c, nil
}

// auditOutputs are the hooks the chain reports sink trouble to: the
// server logs and counts, the CLI prints.
type auditOutputs struct {
	sinkError func(sink string, err error)
}

// newAuditChain builds the recorder over the database with the configured
// sinks; the server and the CLI share it so both write the same trail.
func newAuditChain(db store.AuditStore, ring *keys.Ring, cfg *AuditConfig, out auditOutputs) (*audit.Chain, error) {
	var sinks []audit.Sink
	closeAll := func() {
		for _, s := range sinks {
			_ = s.Close()
		}
	}
	repl := caddy.NewReplacer()
	if cfg != nil && cfg.File != "" {
		path, err := repl.ReplaceOrErr(cfg.File, true, true)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: audit file: %w", err)
		}
		fs, err := audit.OpenFileSink(path)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: %w", err)
		}
		sinks = append(sinks, fs)
	}
	if cfg != nil && cfg.Webhook != nil {
		u, err := repl.ReplaceOrErr(cfg.Webhook.URL, true, true)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("caddyauth: audit webhook: %w", err)
		}
		secret, err := repl.ReplaceOrErr(cfg.Webhook.Secret, true, true)
		if err == nil && secret == "" {
			err = errors.New("resolved to empty")
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("caddyauth: audit webhook secret: %w", err)
		}
		sinks = append(sinks, audit.NewWebhookSink(audit.WebhookOptions{
			URL: u, Secret: []byte(secret),
			OnError: func(err error) { out.sinkError("webhook", err) },
		}))
	}
	c, err := audit.NewChain(db, audit.Options{Key: ring.Key(audit.KeyPurpose), Sinks: sinks, OnSinkError: out.sinkError})
	if err != nil {
		closeAll()
		return nil, err
	}
	return c, nil
}

// auditFilePath is the resolved file sink path ("" when none).
func (a *App) auditFilePath() string {
	if a.Audit == nil || a.Audit.File == "" {
		return ""
	}
	p, err := caddy.NewReplacer().ReplaceOrErr(a.Audit.File, true, true)
	if err != nil {
		return ""
	}
	return p
}

// countingRecorder counts the records the chain failed to store; the
// caller (flows, CLI) logs them.
type countingRecorder struct {
	*audit.Chain
	obs *metrics.Audit
}

func (r countingRecorder) Record(ctx context.Context, e audit.Event) error {
	err := r.Chain.Record(ctx, e)
	if err != nil {
		r.obs.WriteFailed()
	}
	return err
}

// provisionAudit makes a.audit the chain over the database.
func (a *App) provisionAudit(ctx caddy.Context) error {
	obs, err := metrics.NewAudit(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("caddyauth: audit metrics: %w", err)
	}
	logger := a.logger
	c, err := newAuditChain(a.db, a.ring, a.Audit, auditOutputs{sinkError: func(sink string, err error) {
		obs.SinkFailed(sink)
		logger.Error("audit sink failed; the database still has the record", zap.String("sink", sink), zap.Error(err))
	}})
	if err != nil {
		return err
	}
	a.auditChain, a.audit = c, countingRecorder{c, obs}
	return nil
}

func (a *App) auditSinks() []string {
	if a.auditChain == nil {
		return nil
	}
	return a.auditChain.SinkNames()
}

func (a *App) closeAudit() {
	if a.auditChain != nil {
		_ = a.auditChain.Close()
		a.auditChain = nil
	}
}

// CLI

// errRecorder fails every record: the CLI could not build the chain (no
// secret in this environment); commands warn on stderr.
type errRecorder struct{ err error }

func (r errRecorder) Record(context.Context, audit.Event) error { return r.err }

// ring resolves the secrets exactly as the server does.
func (e *cliEnv) ring() (*keys.Ring, error) {
	secret, previous, err := e.app.secrets()
	if err != nil {
		return nil, err
	}
	r, err := keys.NewRing(secret, previous)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: secret: %w", err)
	}
	return r, nil
}

// openAudit makes env.audit the chain (actor "cli" is added by record).
func (e *cliEnv) openAudit() {
	r, err := e.ring()
	if err != nil {
		e.audit = errRecorder{fmt.Errorf("the audit trail needs the server's secret: %w", err)}
		return
	}
	c, err := newAuditChain(e.db, r, e.app.Audit, auditOutputs{sinkError: func(sink string, err error) {
		fmt.Fprintf(os.Stderr, "warning: audit %s sink: %v (the database has the record)\n", sink, err)
	}})
	if err != nil {
		e.audit = errRecorder{err}
		return
	}
	e.audit, e.chain = c, c
}

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and read the tamper-evident audit trail"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every record of the audit chain; exit 1 naming the first broken link",
		Long: `Walks the audit chain in the database and checks each record's sequence
number, its link to the record before and its MAC (keyed by the master secret;
records made before a rotation verify while previous_secret is set). Deleting
records at the end leaves a valid shorter chain, so an anchor from outside the
database is checked too: --anchor <seq>:<mac> (a head printed by an earlier
verify), or else the last record of the audit file sink when configured.`,
		RunE: func(c *cobra.Command, _ []string) error {
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			ring, err := env.ring()
			if err != nil {
				return err
			}
			ctx := c.Context()
			// The anchor is read first: a record reaches the file only
			// after the database committed it, so the database read next
			// can only be longer, even while the server keeps appending.
			var (
				anchorSeq int64
				anchorMAC []byte
				anchored  bool
			)
			if a, _ := c.Flags().GetString("anchor"); a != "" {
				if anchorSeq, anchorMAC, err = parseAnchor(a); err != nil {
					return err
				}
				anchored = true
			} else if path := env.app.auditFilePath(); path != "" {
				if anchorSeq, anchorMAC, anchored, err = audit.ReadFileAnchor(path); err != nil {
					return fmt.Errorf("reading the audit file anchor: %w", err)
				}
			}
			rep, err := audit.Verify(ctx, env.db, ring.VerifyKeys(audit.KeyPurpose))
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if rep.Broken == nil && anchored {
				if rep.Broken, err = audit.CheckAnchor(ctx, env.db, rep, anchorSeq, anchorMAC); err != nil {
					return err
				}
			}
			if rep.Broken != nil {
				fmt.Fprintf(out, "FAILED after %d intact records: %s\n", rep.Records, rep.Broken.Msg)
				return fmt.Errorf("audit chain broken at record %d (%s)", rep.Broken.Seq, rep.Broken.Kind)
			}
			msg := fmt.Sprintf("ok: %d records", rep.Records)
			if rep.Head != nil {
				msg += fmt.Sprintf(" (head #%d mac %s)", rep.Head.Seq, hex.EncodeToString(rep.Head.MAC)[:16])
			}
			if rep.PreviousKey > 0 {
				msg += fmt.Sprintf("; %d sealed with previous_secret", rep.PreviousKey)
			}
			fmt.Fprintln(out, msg)
			return nil
		},
	}
	configFlags(verify)
	verify.Flags().String("anchor", "", "A head noted earlier, <seq>:<mac hex> as verify prints it (#<seq> mac <hex>): the database must still hold it (default: the audit file's last record)")

	tail := &cobra.Command{
		Use:   "tail [--user <email>] [-n N] [--json]",
		Short: "Print the most recent audit records, oldest first",
		RunE: func(c *cobra.Command, _ []string) error {
			email, _ := c.Flags().GetString("user")
			n, _ := c.Flags().GetInt("lines")
			asJSON, _ := c.Flags().GetBool("json")
			since, _ := c.Flags().GetDuration("since")
			if n < 1 {
				return errors.New("-n must be at least 1")
			}
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			ctx := c.Context()
			f := store.AuditFilter{Limit: n, Latest: true}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			if email != "" {
				f.Email = flows.NormalizeEmail(email)
				// The account's records under any email it had, what
				// it did to other accounts as an admin (actor), and
				// attempts on the address by anyone.
				if u, err := env.db.UserByEmail(ctx, f.Email); err == nil {
					f.UserID = u.ID
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			recs, err := env.db.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				for _, r := range recs {
					if err := enc.Encode(audit.ToJSON(r)); err != nil {
						return err
					}
				}
				return nil
			}
			for _, r := range recs {
				fmt.Fprintln(out, formatRecord(r))
			}
			return nil
		},
	}
	configFlags(tail)
	tail.Flags().String("user", "", "Only records about or by this user (email): their own events, attempts on the address, and what they did as an admin (actor)")
	tail.Flags().IntP("lines", "n", 20, "Number of records")
	tail.Flags().Bool("json", false, "One JSON object per line")
	tail.Flags().Duration("since", 0, "Only records newer than this (e.g. 24h)")
	cmd.AddCommand(verify, tail)
	return cmd
}

// parseAnchor reads "<seq>:<hex mac prefix>" (a leading "#" is allowed).
func parseAnchor(s string) (int64, []byte, error) {
	seqStr, macHex, ok := strings.Cut(strings.TrimPrefix(s, "#"), ":")
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if !ok || err != nil || seq < 1 {
		return 0, nil, fmt.Errorf("--anchor %q: want <seq>:<mac hex>, e.g. 1042:3f9a0c27d1e4b856", s)
	}
	mac, err := hex.DecodeString(macHex)
	if err != nil || len(mac) < 8 {
		return 0, nil, fmt.Errorf("--anchor %q: the MAC must be at least 16 hex digits", s)
	}
	return seq, mac, nil
}

// formatRecord is one readable line. Values come from clients (user
// agent, attempted email): anything that is not plain printable text is
// quoted, so a record cannot put escape sequences on the terminal.
func formatRecord(r *store.AuditRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s", r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Seq, safe(r.Type))
	field := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + safe(v))
		}
	}
	field("email", r.Email)
	field("user", r.UserID)
	field("actor", r.Actor)
	field("ip", r.IP)
	field("reason", r.Reason)
	keys := make([]string, 0, len(r.Detail))
	for k := range r.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(safe(k), r.Detail[k])
	}
	field("agent", r.UserAgent)
	return b.String()
}

func safe(s string) string {
	for _, c := range s {
		if c <= ' ' || c == '"' || c == '=' || c == 0x7f || !strconv.IsPrint(c) {
			return strconv.Quote(s)
		}
	}
	return s
}
