package tokenengine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// AdminTokenFile is InfluxDB 3's --admin-token-file format.
type AdminTokenFile struct {
	Token string `json:"token"`
	// Name is accepted for compatibility; the operator token is always called _admin here.
	Name string `json:"name,omitempty"`
	// ExpiryMillis is the expiry as Unix milliseconds; nil means never.
	ExpiryMillis *int64 `json:"expiry_millis,omitempty"`
}

// applyAdminTokenFile makes the operator token match the file. The file is authoritative so that
// rotating the mounted Secret and restarting the engine rotates the operator token. Nothing from
// the file is ever logged.
func (e *Engine) applyAdminTokenFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading admin token file: %w", err)
	}
	var f AdminTokenFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		// The decoder's message could quote the file, which holds a secret.
		return errors.New("admin token file is not valid JSON of the form {\"token\":\"apiv3_…\",\"name\":…,\"expiry_millis\":…}")
	}
	if !strongAdminToken(f.Token) {
		// Never quote the token: it is a secret, even a weak one.
		return fmt.Errorf("admin token file: token must be %q followed by at least %d base64url characters (A-Z, a-z, 0-9, '-', '_'; 32 random bytes or more), e.g. %s$(head -c 64 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')",
			TokenPrefix, MinAdminTokenRandomChars, TokenPrefix)
	}
	var expiry *time.Time
	if f.ExpiryMillis != nil {
		t := time.UnixMilli(*f.ExpiryMillis).UTC()
		expiry = &t
	}
	d := DigestOf(f.Token)
	if cur := e.tokens.byName(AdminTokenName); cur != nil && cur.Digest == d && equalTime(cur.Expiry, expiry) {
		return nil
	}
	if _, err := e.tokens.setAdminDigest(d, expiry, nil); err != nil {
		return err
	}
	e.log.Info("Set the operator token from the admin token file")
	return nil
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
