package caddyauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of adapt fixtures")

func adapt(t *testing.T, src []byte) ([]byte, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": "Caddyfile"})
	return out, err
}

// TestAdaptFixtures pins the Caddyfile surface: each fixture is a Caddyfile,
// a line of dashes, and the JSON it must adapt to (Caddy's own
// caddyfile_adapt convention). Run with -update to rewrite after an
// intended change, and review the diff.
func TestAdaptFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src, want, ok := bytes.Cut(raw, []byte("\n----------\n"))
			if !ok {
				t.Fatal("fixture lacks the ---------- separator")
			}
			got, err := adapt(t, src)
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, got, "", "\t")
			if *update {
				_ = os.WriteFile(f, append(append(src, []byte("\n----------\n")...), append(pretty.Bytes(), '\n')...), 0o644)
				return
			}
			if strings.TrimSpace(pretty.String()) != strings.TrimSpace(string(want)) {
				t.Fatalf("adapted JSON differs from the fixture (run go test ./caddyauth -run TestAdaptFixtures -update and review):\n%s", pretty.String())
			}
		})
	}
}

// TestExampleAdapts keeps Caddyfile.example valid and checks it wires the
// parts the README promises.
func TestExampleAdapts(t *testing.T) {
	src, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	out, err := adapt(t, src)
	if err != nil {
		t.Fatalf("Caddyfile.example does not adapt: %v", err)
	}
	s := string(out)
	for _, want := range []string{`"caddyauth":{`, `"handler":"protect"`, `"public":["/health"]`, `"insecure":true`, `"handler":"reverse_proxy"`} {
		if !strings.Contains(s, want) {
			t.Errorf("adapted example lacks %s", want)
		}
	}
	var cfg struct {
		Apps struct {
			CaddyAuth App `json:"caddyauth"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Apps.CaddyAuth.Secret != "{env.CADDYAUTH_SECRET}" {
		t.Fatalf("secret %q", cfg.Apps.CaddyAuth.Secret)
	}
}

// TestAdaptErrors: each bad Caddyfile is refused with a message naming the
// problem and the line. Fixture: Caddyfile, a line of dashes, then the
// substrings the error must contain, one per line.
func TestAdaptErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/adapt_errors/*.txt")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			src, want, ok := bytes.Cut(raw, []byte("\n----------\n"))
			if !ok {
				t.Fatal("fixture lacks the ---------- separator")
			}
			_, err := adapt(t, src)
			if err == nil {
				t.Fatal("adapted without error")
			}
			for _, w := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
