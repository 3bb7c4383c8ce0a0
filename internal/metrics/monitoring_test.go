package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

// monitoringDir holds the shipped Grafana dashboard and Prometheus rules.
var monitoringDir = filepath.Join("..", "..", "docs", "monitoring")

// registeredNames are the series names the gateway exposes: every
// collector the app registers on Caddy's registry (New for the flows,
// NewOutbox for the outbox worker, NewAudit for the audit chain),
// histograms with their _bucket, _sum and _count series.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewOutbox(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewAudit(reg); err != nil {
		t.Fatal(err)
	}
	// One sample each, so Gather reports every family and its type.
	m.Login("password", "success", time.Millisecond)
	m.Decision("allow")
	m.Error("INTERNAL")
	m.StoreError("test")
	m.Limited("lockout")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	// Collectors that had no sample still have descriptors.
	descs := make(chan *prometheus.Desc, 64)
	go func() { reg.Describe(descs); close(descs) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// loadExprs returns every PromQL expression of the shipped files, keyed by
// where it comes from.
func loadExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	raw, err := os.ReadFile(filepath.Join(monitoringDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	if len(rf.Groups) == 0 {
		t.Fatal("alerts.yml has no rule groups")
	}
	for _, g := range rf.Groups {
		for i, r := range g.Rules {
			where := fmt.Sprintf("alerts.yml %s[%d] %s", g.Name, i, r.Alert)
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("%s: every rule needs alert and expr", where)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: every alert needs a severity label and a summary", where)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			out[where] = r.Expr
		}
	}
	raw, err = os.ReadFile(filepath.Join(monitoringDir, "caddyauth-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash["title"] == nil || dash["uid"] == nil {
		t.Error("dashboard lacks a title or uid")
	}
	n := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition") {
					out["dashboard "+path+"."+k] = s
					n++
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("", dash)
	if n < 5 {
		t.Errorf("dashboard has %d expressions; the walk is broken or the panels are gone", n)
	}
	return out
}

var metricRE = regexp.MustCompile(`\bcaddy_auth_[a-zA-Z0-9_]+`)

// TestMonitoringFilesUseRegisteredMetrics: every caddy_auth_* name in the
// alert rules and the dashboard is one the gateway registers, and every
// expression passes the syntax check.
func TestMonitoringFilesUseRegisteredMetrics(t *testing.T) {
	names := registeredNames(t)
	exprs := loadExprs(t)
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	used := map[string]bool{}
	for _, where := range keys {
		e := exprs[where]
		found := metricRE.FindAllString(e, -1)
		if len(found) == 0 {
			t.Errorf("%s: no caddy_auth_ metric in %q", where, e)
		}
		for _, m := range found {
			used[m] = true
			if !names[m] {
				t.Errorf("%s: %s is not registered by internal/metrics", where, m)
			}
		}
		if err := checkPromQL(e); err != nil {
			t.Errorf("%s: %v\n%s", where, err, e)
		}
	}
	for _, must := range []string{
		"caddy_auth_logins_total", "caddy_auth_login_duration_seconds_bucket", "caddy_auth_store_errors_total",
		"caddy_auth_outbox_depth", "caddy_auth_outbox_failures_total", "caddy_auth_outbox_sent_total",
		"caddy_auth_audit_write_failures_total", "caddy_auth_audit_sink_failures_total",
	} {
		if !used[must] {
			t.Errorf("the monitoring files never use %s", must)
		}
	}
}

// TestCheckerCatchesMistakes: the checks above can fail.
func TestCheckerCatchesMistakes(t *testing.T) {
	names := registeredNames(t)
	if names["caddy_auth_logins_total_bucket"] || !names["caddy_auth_login_duration_seconds_count"] || names["caddy_auth_nope_total"] ||
		!names["caddy_auth_outbox_depth"] || !names["caddy_auth_audit_write_failures_total"] || !names["caddy_auth_audit_sink_failures_total"] {
		t.Fatalf("registered names are wrong: %v", names)
	}
	for _, bad := range []string{
		`sum(rate(caddy_auth_logins_total[5m])`,
		`sum(rate(caddy_auth_logins_total[5m]))) > 1`,
		`sum(rat(caddy_auth_logins_total[5m]))`,
		`rate(caddy_auth_logins_total[5 minutes])`,
		`rate(caddy_auth_logins_total{result="x"[5m])`,
		`rate(caddy_auth_logins_total{result=x}[5m])`,
		`rate(caddy_auth_logins_total{result="x}[5m])`,
		`histogram_quantile(0.99, sum by le (rate(caddy_auth_login_duration_seconds_bucket[5m])))`,
		``,
	} {
		if err := checkPromQL(bad); err == nil {
			t.Errorf("checkPromQL accepted %q", bad)
		}
	}
	for _, good := range []string{
		`sum by (le) (rate(caddy_auth_login_duration_seconds_bucket{job=~"$job",x!="y"}[5m] offset 1h)) / 2`,
		`label_values(caddy_auth_protect_decisions_total, job)`,
		"sum(rate(caddy_auth_logins_total[5m])) > 1\nand\nsum(rate(caddy_auth_logins_total[1h])) > 0",
	} {
		if err := checkPromQL(good); err != nil {
			t.Errorf("checkPromQL refused %q: %v", good, err)
		}
	}
}

// promFuncs are the PromQL functions and aggregations the files may call
// (plus Grafana's label_values in template queries).
var promFuncs = map[string]bool{
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "topk": true, "bottomk": true, "quantile": true,
	"stddev": true, "stdvar": true, "count_values": true, "group": true,
	"rate": true, "irate": true, "increase": true, "delta": true, "idelta": true, "deriv": true,
	"histogram_quantile": true, "clamp_min": true, "clamp_max": true, "clamp": true, "abs": true, "absent": true,
	"absent_over_time": true, "avg_over_time": true, "max_over_time": true, "min_over_time": true, "sum_over_time": true,
	"count_over_time": true, "vector": true, "scalar": true, "time": true, "round": true, "ceil": true, "floor": true,
	"label_replace": true, "label_join": true, "sort": true, "sort_desc": true, "predict_linear": true, "resets": true,
	"changes": true, "label_values": true,
}

// Keywords that may be followed by "(": grouping clauses.
var promClauses = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var durationRE = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+(:([0-9]+(ms|s|m|h|d|w|y))*)?$`)

// checkPromQL is a light syntax check, short of a full parser (pulling in
// github.com/prometheus/prometheus for one test is too heavy): brackets
// balance and nest, strings close, functions are known, grouping clauses
// take a parenthesised label list, ranges are durations, and label matchers
// read name op "value".
func checkPromQL(e string) error {
	if strings.TrimSpace(e) == "" {
		return fmt.Errorf("empty expression")
	}
	var stack []byte
	i := 0
	ident := func() string {
		j := i
		for j < len(e) && (e[j] == '_' || e[j] == ':' || e[j] >= 'a' && e[j] <= 'z' || e[j] >= 'A' && e[j] <= 'Z' || e[j] >= '0' && e[j] <= '9') {
			j++
		}
		s := e[i:j]
		i = j
		return s
	}
	skipSpace := func() {
		for i < len(e) && (e[i] == ' ' || e[i] == '\n' || e[i] == '\t') {
			i++
		}
	}
	for i < len(e) {
		c := e[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t':
			i++
		case c == '"':
			j := strings.IndexByte(e[i+1:], '"')
			if j < 0 {
				return fmt.Errorf("unterminated string at %d", i)
			}
			i += j + 2
		case c == '(':
			stack = append(stack, ')')
			i++
		case c == '[':
			j := strings.IndexByte(e[i:], ']')
			if j < 0 {
				return fmt.Errorf("unterminated range at %d", i)
			}
			if d := e[i+1 : i+j]; !durationRE.MatchString(d) {
				return fmt.Errorf("range [%s] is not a duration", d)
			}
			i += j + 1
		case c == '{':
			j := strings.IndexByte(e[i:], '}')
			if j < 0 {
				return fmt.Errorf("unterminated label matcher at %d", i)
			}
			if err := checkMatchers(e[i+1 : i+j]); err != nil {
				return err
			}
			i += j + 1
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return fmt.Errorf("unbalanced %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			name := ident()
			skipSpace()
			switch {
			case promClauses[name]:
				if i >= len(e) || e[i] != '(' {
					return fmt.Errorf("%s must be followed by a (label list)", name)
				}
			case i < len(e) && e[i] == '(':
				if !promFuncs[name] {
					return fmt.Errorf("unknown function %s", name)
				}
			default:
				// A keyword (and, or, unless, offset, bool), one of our
				// metrics, or a bare word: a label name inside a grouping
				// list or label_values(), or a metric from elsewhere.
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(e) && (e[i] >= '0' && e[i] <= '9' || e[i] == '.' || e[i] == 'e') {
				i++
			}
			if i < len(e) && strings.IndexByte("smhdwy", e[i]) >= 0 {
				i++ // offset duration
				for i < len(e) && (e[i] >= '0' && e[i] <= '9' || strings.IndexByte("smhdwy", e[i]) >= 0) {
					i++
				}
			}
		case strings.IndexByte("+-*/%^<>=!,$~", c) >= 0:
			i++
		default:
			return fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("%d unclosed bracket(s)", len(stack))
	}
	return nil
}

var matcherRE = regexp.MustCompile(`^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*"[^"]*"\s*$`)

func checkMatchers(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, m := range strings.Split(s, ",") {
		if !matcherRE.MatchString(m) {
			return fmt.Errorf("bad label matcher %q", m)
		}
	}
	return nil
}
