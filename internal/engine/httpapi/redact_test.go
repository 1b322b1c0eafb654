package httpapi_test

import (
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
)

func TestRedact(t *testing.T) {
	v2 := "pKKPBa__Ck_-3z0FO1qjpd6P6RYiPJIGcFljQ0ygTobEXvCATjpi2DgkqmSKTjFYSRhuEV4tnpjwmn2gP-y9Jw=="
	for in, want := range map[string]string{
		"token name already exists, k8s.monitoring.telegraf-writer.ab12cd34.r1": "token name already exists, k8s.monitoring.telegraf-writer.ab12cd34.r1",
		"bad header Authorization: Bearer abc":                                  "bad header Authorization: Bearer [redacted]",
		"got token " + v2 + " back":                                             "got token [redacted] back",
		"hash 0123456789abcdef0123456789abcdef0123456789abcdef":                 "hash 0123456789abcdef0123456789abcdef0123456789abcdef",
		"my secret is shh":                                                      "my [redacted] is shh",
	} {
		if got := httpapi.Redact(in, "secret"); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExcerptQuotesOnlyJSONErrorFields: status conditions and events quote what the server said
// in its error fields, never the rest of a body (an engine URL is user input: whatever answers
// there must not be able to write into another tenant's status).
func TestExcerptQuotesOnlyJSONErrorFields(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"InfluxDB 3 / 1.x", `{"error":"database not found","data":"<script>"}`, "error: database not found"},
		{"InfluxDB 2.x", `{"code":"not found","message":"bucket \"b\" not found","extra":"x"}`, `code: not found; message: bucket "b" not found`},
		{"no error field", `{"token":"plain-lowercase-secret"}`, "(a JSON body without an error field, not quoted)"},
		{"HTML from a proxy", `<html><body>plain-lowercase-secret</body></html>`, "(a 48-byte body that is not a JSON error, not quoted)"},
		{"not an object", `["plain-lowercase-secret"]`, "(a 26-byte body that is not a JSON error, not quoted)"},
		{"empty", "", ""},
	} {
		if got := httpapi.Excerpt([]byte(tc.body)); got != tc.want {
			t.Errorf("%s: Excerpt = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestExcerptRedactsBeforeTruncating(t *testing.T) {
	tok := "apiv3_" + strings.Repeat("Ab1", 30)
	body := `{"error":"` + strings.Repeat("x ", httpapi.MaxBodyInMessage/2-10) + tok + `\n\tmore"}`
	got := httpapi.Excerpt([]byte(body), tok)
	if strings.Contains(got, "Ab1Ab1") || strings.ContainsAny(got, "\n\t") {
		t.Errorf("Excerpt leaked part of the token or kept control characters: %q", got)
	}
	if len(got) > httpapi.MaxBodyInMessage+len("…") {
		t.Errorf("Excerpt is %d bytes", len(got))
	}
}

// A success answer that cannot be used is reported without its body: create answers and token
// listings carry credentials that the redaction heuristics cannot all recognise.
func TestUnreadableNeverQuotesTheBody(t *testing.T) {
	const secret = "plain-lowercase-token-value"
	resp := &httpapi.Response{Status: 200, Body: []byte(`[{"token":"` + secret + `"}`)}
	err := resp.Unreadable("listing tokens", "a readable token listing")
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "HTTP 200") {
		t.Fatalf("Unreadable() = %q: must name the status and never quote the body", err)
	}
	if engine.KindOf(err) != engine.Transient {
		t.Errorf("Unreadable() kind = %v, want transient", engine.KindOf(err))
	}
}
