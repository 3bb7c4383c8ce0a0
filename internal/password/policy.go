package password

// The policy for new passwords (NIST SP 800-63B-4 section 3.1.1.2): a
// minimum length, no composition rules, any Unicode, and a refusal of
// passwords an attacker tries first. See docs/configuration.md, "Password
// policy".

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MinLength is the minimum number of characters (Unicode code points) of a
// new password used as the only factor (NIST SP 800-63B-4: 15).
const MinLength = 15

// Reasons CheckNew refuses a password; callers map them to messages with
// errors.Is. The texts name the rule, never the password.
var (
	ErrTooShort   = errors.New("password must be at least 15 characters")
	ErrRepetitive = errors.New("password is one short pattern repeated")
	ErrContext    = errors.New("password is built from the account's email address or name, or the service name")
	ErrCommon     = errors.New("password is too common: a frequently used password, repeated or with digits or symbols added, or a keyboard or number sequence")
)

// MinContextWord is the fewest characters a context word needs to be judged
// by: shorter words and name parts are ignored, and configured context
// words shorter than this are refused.
const MinContextWord = 4

// minEmailAlnum is the fewest letters and digits an email address needs for
// a password containing them, punctuation aside, to be refused.
const minEmailAlnum = 8

// ServiceName is always a context word: a password containing it is refused.
const ServiceName = "caddyauth"

// CheckNew applies the policy to a new password. context holds what the
// password must not be built from: the account's email address and name
// (empty values are ignored). The rules, in order:
//
//   - at least MinLength characters and at most MaxLength bytes
//     (ErrTooShort, ErrTooLong);
//   - not one unit of at most 4 characters repeated, like "aaaa..." or
//     "abcabc..." (ErrRepetitive);
//   - not built from the context (ErrContext): it must not contain
//     ServiceName or the full email address, nor the address's letters and
//     digits when there are at least 8 of them; the email's local part and the
//     name (whole, or any word of it) of at least 4 characters must not make
//     up half or more of its letters and digits, nor leave only a weak rest
//     (a listed password, a sequence, digits in a row);
//   - not common (ErrCommon): compared case-insensitively, with and without
//     its spaces and punctuation, the password, or what is left once the
//     digits, spaces and symbols at its start and end are cut off, must not
//     be a listed password or a keyboard, alphabet or digit sequence, nor
//     one of those repeated ("passwordpassword", "password1234567",
//     "qwertyuiopasdfgh", "123456789012345").
//
// Nothing else is required: no character classes, any Unicode.
func CheckNew(pw string, context ...string) error {
	if utf8.RuneCountInString(pw) < MinLength {
		return ErrTooShort
	}
	if len(pw) > MaxLength {
		return ErrTooLong
	}
	lower := strings.ToLower(pw)
	an := alnum(lower)
	// The letters and digits alone are judged only when there are enough of
	// them: "a" and "a" around thirteen symbols is not "aa".
	judgeAn := utf8.RuneCountInString(an) >= minAlnum
	if shortPeriod(lower) || judgeAn && shortPeriod(an) {
		return ErrRepetitive
	}
	if builtFromContext(lower, an, context) {
		return ErrContext
	}
	if weak(lower) || judgeAn && weak(an) {
		return ErrCommon
	}
	return nil
}

// minAlnum is the fewest letters and digits for the form without spaces and
// punctuation to be judged on its own.
const minAlnum = 8

//go:embed common-passwords.txt
var commonList string

// listed holds the common passwords, lower-cased; built on first use.
var listed = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	for _, line := range strings.Split(commonList, "\n") {
		if w := strings.ToLower(strings.TrimSpace(line)); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
})

// Listed reports whether s is in the embedded common-password list
// (case-insensitive).
func Listed(s string) bool {
	_, ok := listed()[strings.ToLower(s)]
	return ok
}

// sequences are keyboard rows and columns, the alphabet and the digits;
// a run along one of them, either way and wrapping around, is a sequence.
var sequences = []string{
	"0123456789",
	"abcdefghijklmnopqrstuvwxyz",
	"qwertyuiopasdfghjklzxcvbnm", // QWERTY rows
	"qwertzuiopasdfghjklyxcvbnm", // QWERTZ rows
	"azertyuiopqsdfghjklmwxcvbn", // AZERTY rows
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
	"qazwsxedcrfvtgbyhnujmikolp",
	"1q2w3e4r5t6y7u8i9o0p",
	"!@#$%^&*()",
}

// maxSequence is the length of the longest sequence. A string running along
// a sequence for longer than that has the sequence's length as a period, so
// repeatsCommon needs to try sequence only on units this short.
var maxSequence = func() int {
	n := 0
	for _, s := range sequences {
		n = max(n, len(s))
	}
	return n
}()

// sequence reports whether s (lower case, at least 4 bytes) runs along one
// of the sequences.
func sequence(s string) bool {
	if len(s) < 4 {
		return false
	}
	for _, seq := range sequences {
		for _, q := range []string{seq, reverse(seq)} {
			if strings.Contains(strings.Repeat(q, len(s)/len(q)+2), s) {
				return true
			}
		}
	}
	return false
}

func reverse(s string) string {
	b := []byte(s) // sequences are ASCII
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// shortPeriod reports whether s is one unit of 1 to 4 characters repeated
// (at least twice; a last partial unit allowed).
func shortPeriod(s string) bool {
	r := []rune(s)
	for p := 1; p <= 4 && 2*p <= len(r); p++ {
		ok := true
		for i := p; i < len(r) && ok; i++ {
			ok = r[i] == r[i-p]
		}
		if ok {
			return true
		}
	}
	return false
}

// repeatsCommon reports whether s is a listed password or a sequence,
// repeated one or more times (a last partial repetition allowed). The units
// tried are the periods of s, found with the prefix function.
func repeatsCommon(s string) bool {
	n := len(s)
	if n == 0 {
		return false
	}
	// pi[i]: length of the longest proper border of s[:i+1].
	pi := make([]int, n)
	for i := 1; i < n; i++ {
		k := pi[i-1]
		for k > 0 && s[i] != s[k] {
			k = pi[k-1]
		}
		if s[i] == s[k] {
			k++
		}
		pi[i] = k
	}
	// The periods of s are n - b for every border b of s (and n itself).
	for b := pi[n-1]; ; b = pi[b-1] {
		u := s[:n-b]
		if Listed(u) || len(u) <= maxSequence && sequence(u) {
			return true
		}
		if b == 0 {
			return false
		}
	}
}

// weak reports whether s, or s with the digits, spaces and symbols at its
// ends cut off, is a listed password or a sequence, possibly repeated.
func weak(s string) bool {
	if repeatsCommon(s) {
		return true
	}
	core := strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	return core != "" && core != s && repeatsCommon(core)
}

// alnum keeps only the letters and digits of s.
func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// builtFromContext applies the context rule of CheckNew to the lower-cased
// password and its letters and digits.
func builtFromContext(lower, an string, context []string) bool {
	if strings.Contains(an, ServiceName) {
		return true
	}
	for _, c := range context {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if at := strings.LastIndexByte(c, '@'); at > 0 {
			if strings.Contains(lower, c) {
				return true
			}
			// The email's letters and digits alone are judged only when
			// there are enough of them: "al@ex.io" is "alexio", a run that
			// ordinary words such as "Alex Iolanthe" contain.
			if ac := alnum(c); utf8.RuneCountInString(ac) >= minEmailAlnum && strings.Contains(an, ac) {
				return true
			}
			c = c[:at]
		}
		words := strings.FieldsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		words = append(words, alnum(c))
		for _, w := range words {
			if utf8.RuneCountInString(w) >= MinContextWord && mostly(an, w) {
				return true
			}
		}
	}
	return false
}

// mostly reports whether w occurs in s and its occurrences make up half or
// more of s, or leave a rest that is a shortPeriod or weak.
func mostly(s, w string) bool {
	if !strings.Contains(s, w) {
		return false
	}
	rest := strings.ReplaceAll(s, w, "")
	if 2*utf8.RuneCountInString(rest) <= utf8.RuneCountInString(s) {
		return true
	}
	return shortPeriod(rest) || weak(rest)
}
