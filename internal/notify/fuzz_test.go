package notify

import (
	"strings"
	"testing"
)

// FuzzRecipient: recipients come from users (registration, profile). An
// accepted one never carries a line break (header injection), and masking
// never panics nor returns the whole address.
func FuzzRecipient(f *testing.F) {
	for _, s := range []string{"ada@example.com", "+33612345678", "a\r\nBcc: x@y", "@", "", "é@ü.de", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, to string) {
		err := validate(Message{Kind: KindMFACode, Channel: Email, To: to})
		if err == nil && strings.ContainsAny(to, "\r\n\x00") {
			t.Fatalf("accepted %q", to)
		}
		m := MaskRecipient(to)
		// Of an address, only the first character of the local part shows.
		maskedLocal, _, _ := strings.Cut(m, "@")
		if local, _, ok := strings.Cut(to, "@"); ok && local != "" && maskedLocal != string([]rune(local)[0])+"***" {
			t.Fatalf("MaskRecipient(%q) = %q shows more than one character of the local part", to, m)
		}
		if !strings.ContainsAny(to, "@*") && len([]rune(to)) > 4 && m == to {
			t.Fatalf("MaskRecipient(%q) masks nothing", to)
		}
	})
}
