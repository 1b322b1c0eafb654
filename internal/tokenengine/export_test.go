package tokenengine

import (
	"testing"
)

// SeedDBTokens adds n read/write tokens on database db in one transaction, bypassing the
// one-fsync-per-create API so that benchmarks can start with 10,000 live tokens quickly.
func SeedDBTokens(tb testing.TB, e *Engine, n int, db string) []string {
	tb.Helper()
	bs, ok := e.store.(*BoltStore)
	if !ok {
		tb.Fatalf("SeedDBTokens needs the bbolt store, not %T", e.store)
	}
	toks := make([]string, n)
	recs := make([]*Record, n)
	now := e.tokens.clock.Now().UTC()
	base := uint64(1 << 20)
	for i := range recs {
		tok, d, err := newToken()
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &Record{ID: base + uint64(i), Name: "seed-" + tok[len(tok)-16:], Digest: d, CreatedAt: now,
			Permissions: []Permission{{ResourceType: ResourceDB, Names: []string{db}, Actions: []string{ActionRead, ActionWrite}}}}
		toks[i] = tok
	}
	if err := bs.PutRaw(recs...); err != nil {
		tb.Fatal(err)
	}
	return toks
}
