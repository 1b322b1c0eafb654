// Package testserver holds what the in-test HTTP servers share. Those servers stand in, in
// tests only, for engines that cannot run on a test machine (InfluxDB 2.x, Cloud Dedicated):
// they are test servers that behave as docs/engines/facts.md records, not engines.
package testserver

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// RandomBytes returns n random bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// HexID returns 2n random hex characters.
func HexID(n int) string { return hex.EncodeToString(RandomBytes(n)) }

// Hash is what the servers store instead of a token: its SHA-512.
func Hash(token string) [sha512.Size]byte { return sha512.Sum512([]byte(token)) }

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Credential returns the credential of the request's Authorization header when its scheme is
// one of schemes (compared case-insensitively, as InfluxDB 2.x does), or "".
func Credential(r *http.Request, schemes ...string) string {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok {
		return ""
	}
	for _, s := range schemes {
		if strings.EqualFold(s, scheme) {
			return cred
		}
	}
	return ""
}

// Clock hands out strictly increasing creation times, as a server's single writer would.
type Clock struct {
	// Step is the resolution of the times: they are truncated to it and at least Step apart.
	// Zero means a microsecond.
	Step time.Duration
	mu   sync.Mutex
	last time.Time
}

// Now returns the current UTC time, later than every time it returned before.
func (c *Clock) Now() time.Time {
	step := c.Step
	if step <= 0 {
		step = time.Microsecond
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UTC().Truncate(step)
	if !now.After(c.last) {
		now = c.last.Add(step)
	}
	c.last = now
	return now
}
