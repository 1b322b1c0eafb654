package tokenengine

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// TokenPrefix starts every token string, as on InfluxDB 3.
const TokenPrefix = "apiv3_"

// tokenRandomBytes is how much entropy a token carries, as on InfluxDB 3 (64 bytes from the OS).
const tokenRandomBytes = 64

// digest is the SHA-512 of the whole token string, prefix included; it is all the engine keeps.
type Digest [sha512.Size]byte

func DigestOf(token string) Digest { return sha512.Sum512([]byte(token)) }

func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// newToken returns a fresh token string and its digest.
func newToken() (string, Digest, error) {
	var b [tokenRandomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Digest{}, fmt.Errorf("reading random bytes: %w", err)
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return tok, DigestOf(tok), nil
}

// wellFormedToken reports whether s could be a token this engine (or InfluxDB 3) minted. It is a
// cheap pre-check so that garbage never reaches the hash.
func wellFormedToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) > len(TokenPrefix) && len(s) <= 1024
}

// NewTokenString returns a fresh token string in InfluxDB 3's format, for admin token files
// written by installers (token-operator dev).
func NewTokenString() (string, error) {
	tok, _, err := newToken()
	return tok, err
}

// MinAdminTokenRandomChars is the shortest random part an admin token from a file may have: 43
// base64url characters carry 256 bits (32 bytes). Tokens this engine mints carry 86 (64 bytes).
const MinAdminTokenRandomChars = 43

// strongAdminToken reports whether s is apiv3_ followed by at least MinAdminTokenRandomChars
// base64url characters (A-Z a-z 0-9 - _), and no more than a token may hold.
func strongAdminToken(s string) bool {
	if !wellFormedToken(s) {
		return false
	}
	rest := s[len(TokenPrefix):]
	if len(rest) < MinAdminTokenRandomChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
