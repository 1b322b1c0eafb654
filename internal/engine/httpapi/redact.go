package httpapi

import (
	"regexp"
	"strings"
	"unicode"
)

const redacted = "[redacted]"

var (
	// authScheme matches credentials an engine might echo from a header.
	authScheme = regexp.MustCompile(`(?i)\b(Bearer|Basic)\s+\S+`)
	// tokenish matches long runs of base64/base64url characters; those mixing upper case, lower
	// case and digits are treated as credentials (Kubernetes names are lower case, hashes are hex).
	tokenish = regexp.MustCompile(`[A-Za-z0-9+/_=-]{24,}`)
)

// Redact removes the given secrets and anything that looks like a credential from s.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	s = authScheme.ReplaceAllString(s, "$1 "+redacted)
	return tokenish.ReplaceAllStringFunc(s, func(m string) string {
		if looksRandom(m) {
			return redacted
		}
		return m
	})
}

func looksRandom(s string) bool {
	var upper, lower, digit bool
	for _, r := range s {
		upper = upper || unicode.IsUpper(r)
		lower = lower || unicode.IsLower(r)
		digit = digit || unicode.IsDigit(r)
	}
	return upper && lower && digit
}

// Excerpt turns a response body into one short printable line with credentials removed. It
// redacts before truncating, so that a cut cannot leave a recognisable piece of a token.
func Excerpt(body []byte, secrets ...string) string {
	s := strings.ToValidUTF8(string(body), "?")
	s = strings.Join(strings.Fields(s), " ")
	s = Redact(s, secrets...)
	if len(s) > MaxBodyInMessage {
		cut := MaxBodyInMessage
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
