package influxaccess

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
)

// MsgMalformedAuth is InfluxDB 3's answer to an Authorization header it cannot read.
const MsgMalformedAuth = "Authorization header was malformed, the request was not in the form of 'Authorization: <auth-scheme> <token>', supported auth-schemes are Bearer, Token and Basic"

// ErrNoCredential: the request presents no token.
var ErrNoCredential = errors.New("the request presents no token")

// Credential returns the token r presents, in any of InfluxDB's forms: Authorization Bearer,
// Token or Basic (the token is the password), or ?p= on /query and /write. Several Authorization
// headers, or a header together with ?p= or ?u=, are an *Error: servers differ on which wins.
// Call it after Map, which refuses a malformed query string.
func Credential(r Request, authorization []string) (string, error) {
	q, _ := url.ParseQuery(r.RawQuery)
	v1 := r.Path == PathV1Query || r.Path == PathV1Write
	switch {
	case len(authorization) > 1:
		return "", errorf("more than one Authorization header")
	case len(authorization) == 1 && (q.Has("p") || q.Has("u")):
		return "", errorf("credentials in both the Authorization header and the query string (p, u)")
	case len(authorization) == 1:
		tok, ok := TokenFromHeader(authorization[0])
		if !ok {
			return "", errorf("%s", MsgMalformedAuth)
		}
		return tok, nil
	case v1 && q.Get("p") != "":
		return q.Get("p"), nil
	}
	return "", ErrNoCredential
}

// TokenFromHeader extracts the token from an Authorization header value the way InfluxDB 3's
// validate_auth_header does: exactly "<scheme> <credential>" with the case-sensitive schemes
// Bearer, Token or Basic; Basic carries base64(user:token) and ignores the user.
func TokenFromHeader(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || cred == "" || strings.Contains(cred, " ") {
		return "", false
	}
	switch scheme {
	case "Bearer", "Token":
		return cred, true
	case "Basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return "", false
		}
		_, tok, ok := strings.Cut(string(raw), ":")
		return tok, ok && tok != ""
	}
	return "", false
}
