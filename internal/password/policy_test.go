package password

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// phrase returns n characters of a passphrase that is neither listed nor
// repetitive (deterministic, so a failure can be reproduced).
func phrase(t *testing.T, n int) string {
	t.Helper()
	words := strings.Fields("amber quiet lantern hollow river spruce velvet cobalt meadow thistle orbit falcon " +
		"granite willow ember harbor saffron tundra pebble quartz juniper mosaic drizzle canyon")
	r := rand.New(rand.NewPCG(1, uint64(n)))
	var b strings.Builder
	for utf8.RuneCountInString(b.String()) < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(" ")
	}
	s := string([]rune(b.String())[:n])
	if got := utf8.RuneCountInString(s); got != n {
		t.Fatalf("phrase has %d characters, want %d", got, n)
	}
	return s
}

func TestCheckNewAccepts(t *testing.T) {
	emoji := "🐶🐱🐭🐹🐰🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵"
	if utf8.RuneCountInString(emoji) != 15 || len(emoji) != 60 {
		t.Fatalf("emoji fixture: %d characters, %d bytes", utf8.RuneCountInString(emoji), len(emoji))
	}
	for _, tc := range []struct {
		name, pw string
		context  []string
	}{
		{"passphrase", "correct horse battery staple", nil},
		{"15 emoji (60 bytes)", emoji, nil},
		{"15 lowercase letters", "mhfkwzqpdtrnbxl", nil},
		{"20 random-looking digits", "73019284657391028465", nil},
		{"Cyrillic phrase", "грустный кот пьёт чай утром", nil},
		{"passphrase ending in a year", "my cat sleeps all day 2024", nil},
		{"64 characters", phrase(t, 64), nil},
		{"128 characters", phrase(t, 128), nil},
		{"a lone letter at each end of symbols", "a!~#$%-&*()_+{}a", nil},
		{"name is a small part", "alice in wonderland drinks tea", []string{"alice@example.test", "Alice"}},
		{"short local part ignored", "bob went to the market today", []string{"bob@example.test", "Bob"}},
		{"short email's letters in a run", "Alex Iolanthe sings by the river", []string{"al@ex.io"}},
		{"email's letters and digits under 8", "Mo Lin Re sails across the bay", []string{"mo@lin.re"}},
		{"mixed case and symbols", "Tr0ub4dor&3 was never enough", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckNew(tc.pw, tc.context...); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

func TestCheckNewRefuses(t *testing.T) {
	alice := []string{"alice.liddell@example.test", "Alice Liddell"}
	for _, tc := range []struct {
		name, pw string
		context  []string
		want     error
	}{
		{"empty", "", nil, ErrTooShort},
		{"14 characters", "short-pw-12345", nil, ErrTooShort},
		{"14 é (28 bytes)", strings.Repeat("é", 14), nil, ErrTooShort},
		{"over MaxLength bytes", strings.Repeat("ab€", 300), nil, ErrTooLong},

		{"one letter", "aaaaaaaaaaaaaaa", nil, ErrRepetitive},
		{"three letters", "abcabcabcabcabc", nil, ErrRepetitive},
		{"four characters", "ab1!ab1!ab1!ab1!", nil, ErrRepetitive},
		{"two digits", "1212121212121212", nil, ErrRepetitive},
		{"case does not hide it", "AaAaAaAaAaAaAaAa", nil, ErrRepetitive},
		{"separators do not hide it", "a-b-a-b-a-b-a-b-a-b", nil, ErrRepetitive},
		{"one emoji", strings.Repeat("😀", 15), nil, ErrRepetitive},

		{"listed, doubled", "passwordpassword", nil, ErrCommon},
		{"listed, doubled, any case", "PassWordPASSWORD", nil, ErrCommon},
		{"listed, tripled", "monkeymonkeymonkey", nil, ErrCommon},
		{"listed, doubled with a partial third", "trustno1trustno1tr", nil, ErrCommon},
		{"listed, digits appended", "password1234567", nil, ErrCommon},
		{"listed, digits and symbol appended", "Password123456!", nil, ErrCommon},
		{"listed, digits prepended", "2024!!dragon2024", nil, ErrCommon},
		{"listed, spaced out", "p a s s w o r d 1 2 3 4", nil, ErrCommon},
		{"listed as is (18 characters)", "films+pic+galeries", nil, ErrCommon},
		{"keyboard walk", "qwertyuiopasdfgh", nil, ErrCommon},
		{"keyboard columns", "1qaz2wsx3edc4rfv", nil, ErrCommon},
		{"alphabet", "abcdefghijklmnop", nil, ErrCommon},
		{"digit sequence", "123456789012345", nil, ErrCommon},
		{"digit sequence backwards", "098765432109876", nil, ErrCommon},

		{"service name", "my caddyauth gateway key", nil, ErrContext},
		{"full email", "alice.liddell@example.test rocks", alice, ErrContext},
		{"email local part most of it", "aliceliddell2024!", alice, ErrContext},
		{"name twice", "Alice Liddell Alice Liddell", alice, ErrContext},
		{"name word and a digit run", "liddell123456789012", alice, ErrContext},
		{"configured word", "acmeacmeacme2026", []string{"acme"}, ErrContext},
		{"short full email", "al@ex.io is my favourite address", []string{"al@ex.io"}, ErrContext},
		{"email's letters and digits at 8", "Mo Lina Re sails across the bay", []string{"mo@lina.re"}, ErrContext},
		{"email's letters and digits over 8", "Jo Example.io is where my cat naps", []string{"jo@example.io"}, ErrContext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNew(tc.pw, tc.context...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("the error echoes the password: %v", err)
			}
		})
	}
}

// TestCheckNewMaxLengthBoundary: exactly MaxLength bytes passes, one more
// does not (the bound is in bytes, after the policy's other rules).
func TestCheckNewMaxLengthBoundary(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, MaxLength)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz "[r.IntN(27)]
	}
	if err := CheckNew(string(b)); err != nil {
		t.Fatalf("%d bytes refused: %v", MaxLength, err)
	}
	if err := CheckNew(string(b) + "x"); !errors.Is(err, ErrTooLong) {
		t.Fatalf("%d bytes: %v", MaxLength+1, err)
	}
}

func TestCommonList(t *testing.T) {
	if n := len(listed()); n < 10000 {
		t.Fatalf("the embedded list has %d entries, want the 10,000 of the source", n)
	}
	for _, s := range []string{"password", "PASSWORD", "123456", "qwerty", "iloveyou", "trustno1"} {
		if !Listed(s) {
			t.Errorf("%q is not listed", s)
		}
	}
	for _, s := range []string{"correct horse battery staple", "", "mhfkwzqpdtrnbxl"} {
		if Listed(s) {
			t.Errorf("%q is listed", s)
		}
	}
}

func BenchmarkCheckNew(b *testing.B) {
	pw := strings.Repeat("correct horse battery staple ", 40)[:MaxLength]
	for b.Loop() {
		_ = CheckNew(pw, "alice@example.test", "Alice Liddell")
	}
}
