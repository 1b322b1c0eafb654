package controllers_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine/fake"
)

// writeCounter counts the manager's API writes by resource, from its HTTP transport.
type writeCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if r.Method == http.MethodGet && r.URL.Query().Get("watch") == "" && namedObject(r.URL.Path) {
			// An uncached read of one object (the cache lists and watches instead).
			c.mu.Lock()
			c.counts["GET "+writeKind(r.URL.Path)]++
			c.mu.Unlock()
		}
		if r.Method != http.MethodGet {
			c.mu.Lock()
			c.counts[writeKind(r.URL.Path)]++
			if err == nil && resp.StatusCode == http.StatusConflict {
				c.counts["conflicts"]++
			}
			c.mu.Unlock()
		}
		return resp, err
	})
}

// writeKind names what a request path writes: "events", "secrets", "databasetokens/status", ...
func writeKind(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			rest := parts[i+2:]
			if len(rest) >= 3 {
				return rest[0] + "/" + rest[2]
			}
			return rest[0]
		}
	}
	return path
}

// namedObject reports whether path names one namespaced object: .../namespaces/ns/kind/name.
func namedObject(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	i := slices.Index(parts, "namespaces")
	return i >= 0 && len(parts)-i == 4
}

func (c *writeCounter) get(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[kind]
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// docs/design.md §8: at most 3 API writes per minted token (finalizer with the intent, Secret,
// current) and at most one event, no uncached Secret read on the happy path; none at steady state.
func TestWriteBudgetPerMintedToken(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	fe := fake.New()
	writes := &writeCounter{counts: map[string]int{}}
	startManagerWith(t, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)}, writes.wrap)

	const n = 30
	for i := range n {
		g.Expect(k8s.Create(context.Background(), databaseTokenKind.new("budget-"+strconv.Itoa(i), ns))).To(Succeed())
	}
	for i := range n {
		waitReady(t, databaseTokenKind, databaseTokenKind.new("budget-"+strconv.Itoa(i), ns))
	}
	g.Eventually(func() int { return writes.get("events") }).WithTimeout(timeout).Should(BeNumerically(">=", n))

	tokenWrites := writes.get("databasetokens") + writes.get("databasetokens/status") + writes.get("secrets")
	t.Logf("%d tokens: %d object writes, %d status writes, %d Secret writes, %d events, %d conflicts; uncached reads: %d Secrets, %d DatabaseTokens",
		n, writes.get("databasetokens"), writes.get("databasetokens/status"), writes.get("secrets"), writes.get("events"), writes.get("conflicts"),
		writes.get("GET secrets"), writes.get("GET databasetokens"))
	g.Expect(tokenWrites).To(BeNumerically("<=", 3*n), "at most 3 API writes per minted token")
	g.Expect(writes.get("GET secrets")).To(BeZero(), "no uncached Secret read on the happy path")
	g.Expect(writes.get("events")).To(BeNumerically("<=", n), "at most one event per minted token")
	g.Expect(fe.MintCount()).To(Equal(n))

	// Steady state: no writes at all.
	total := func() int { return tokenWritesOf(writes) + writes.get("events") }
	before := total()
	g.Consistently(total).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(before))
}

func tokenWritesOf(w *writeCounter) int {
	return w.get("databasetokens") + w.get("databasetokens/status") + w.get("secrets")
}
