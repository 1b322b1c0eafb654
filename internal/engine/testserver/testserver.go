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
	"testing"
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

// Counter counts a test server's requests by route ("GET /api/v2/authorizations/{id}", the
// ServeMux pattern that served it) and anything else a server adds (ListedObjects), so that
// tests can prove what a call costs (docs/design.md §8).
type Counter struct {
	mu sync.Mutex
	n  map[string]int
}

// ListedObjects is the Counter key a server adds every listed object to.
const ListedObjects = "listed objects"

// Wrap returns h counting each request under the pattern that served it.
func (c *Counter) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		key := r.Pattern
		if key == "" {
			key = r.Method + " (unrouted)"
		}
		c.Add(key, 1)
	})
}

// Add adds n to key.
func (c *Counter) Add(key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key] += n
}

// Counts returns the counts so far and starts again from zero.
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	if out == nil {
		out = map[string]int{}
	}
	return out
}

// Each runs f for every name with 16 workers, the manager's default concurrency, and stops the
// test after the first failures: the scale tests' load of 10,000 calls.
func Each(t *testing.T, names []string, f func(name string) error) {
	t.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for n := range work {
				if err := f(n); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// MintEach mints every name with Each and returns the id each mint answered, by name: what
// status records as tokenID, for revokes by id.
func MintEach(t *testing.T, names []string, mint func(name string) (id string, err error)) map[string]string {
	t.Helper()
	var mu sync.Mutex
	ids := make(map[string]string, len(names))
	Each(t, names, func(n string) error {
		id, err := mint(n)
		mu.Lock()
		ids[n] = id
		mu.Unlock()
		return err
	})
	return ids
}

// WantCounts compares a server's request counts (Counter.Counts) with the expected ones; keys
// absent from want must be zero.
func WantCounts(t testing.TB, what string, got, want map[string]int) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d × %s, want %d", what, got[k], k, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("%s: %d × %s, want none", what, v, k)
		}
	}
	t.Logf("%s: %v", what, got)
}
