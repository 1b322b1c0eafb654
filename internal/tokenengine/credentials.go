package tokenengine

import "github.com/tokenops/token-operator/internal/influxaccess"

// credentialResult says what a request presented.
type credentialResult int

const (
	credNone credentialResult = iota
	credFound
	credMalformed
)

// tokenFromHeader extracts the token from an Authorization header value as InfluxDB 3 does
// (influxaccess.TokenFromHeader).
func tokenFromHeader(h string) (string, credentialResult) {
	if h == "" {
		return "", credNone
	}
	tok, ok := influxaccess.TokenFromHeader(h)
	if !ok {
		return "", credMalformed
	}
	return tok, credFound
}
