package httpapi

import (
	"encoding/json"
	"fmt"
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

// errorFields are the keys InfluxDB APIs put their error text in: "error" (1.x, 3, our engine),
// "code" and "message" (2.x, Cloud Dedicated), "err" (1.x's older handlers).
var errorFields = []string{"code", "message", "error", "err"}

// Excerpt turns an error response body into one short printable line: only the string values of
// the JSON error fields (errorFields), with credentials removed. Anything else an engine (or
// whatever answers at a URL a person wrote into an engine resource) sends back never reaches a
// status condition or an event: a non-JSON body is described, not quoted. It redacts before
// truncating, so that a cut cannot leave a recognisable piece of a token.
func Excerpt(body []byte, secrets ...string) string {
	var obj map[string]json.RawMessage
	if len(strings.TrimSpace(string(body))) == 0 {
		return ""
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		return fmt.Sprintf("(a %d-byte body that is not a JSON error, not quoted)", len(body))
	}
	var parts []string
	for _, k := range errorFields {
		var v string
		if raw, ok := obj[k]; ok && json.Unmarshal(raw, &v) == nil && v != "" {
			parts = append(parts, k+": "+v)
		}
	}
	if len(parts) == 0 {
		return "(a JSON body without an error field, not quoted)"
	}
	s := strings.ToValidUTF8(strings.Join(parts, "; "), "?")
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
