package tokenengine

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// credentialResult says what a request presented.
type credentialResult int

const (
	credNone credentialResult = iota
	credFound
	credMalformed
)

// tokenFromHeader extracts the token from an Authorization header value the way InfluxDB 3's
// validate_auth_header does: exactly "<scheme> <credential>" with the case-sensitive schemes
// Bearer, Token or Basic; Basic carries base64(user:token) and ignores the user.
func tokenFromHeader(h string) (string, credentialResult) {
	if h == "" {
		return "", credNone
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || cred == "" || strings.Contains(cred, " ") {
		return "", credMalformed
	}
	switch scheme {
	case "Bearer", "Token":
		return cred, credFound
	case "Basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return "", credMalformed
		}
		_, tok, ok := strings.Cut(string(raw), ":")
		if !ok || tok == "" {
			return "", credMalformed
		}
		return tok, credFound
	default:
		return "", credMalformed
	}
}

// tokenFromV1Query reads the v1 query-string credential (?p=TOKEN) that /query and /write
// accept on InfluxDB 3 when no Authorization header is sent.
func tokenFromV1Query(path string, q url.Values) (string, bool) {
	if path != "/query" && path != "/write" {
		return "", false
	}
	p := q.Get("p")
	return p, p != ""
}
