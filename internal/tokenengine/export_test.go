package tokenengine

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// SeedDBTokens adds n read/write tokens on database db in one transaction, bypassing the
// one-fsync-per-create API so that benchmarks can start with 10,000 live tokens quickly.
func SeedDBTokens(tb testing.TB, e *Engine, n int, db string) []string {
	tb.Helper()
	t := e.tokens
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	toks := make([]string, n)
	recs := make([]*record, n)
	now := t.clock.Now().UTC()
	err := t.store.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		for i := range recs {
			tok, d, err := newToken()
			if err != nil {
				return err
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			r := &record{ID: seq - 1, Name: "seed-" + tok[len(tok)-16:], Digest: d, CreatedAt: now,
				Permissions: []Permission{{ResourceType: ResourceDB, Names: []string{db}, Actions: []string{ActionRead, ActionWrite}}}}
			v, err := r.marshal()
			if err != nil {
				return err
			}
			if err := b.Put(idKey(r.ID), v); err != nil {
				return err
			}
			toks[i], recs[i] = tok, r
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	t.mu.Lock()
	for _, r := range recs {
		t.byDigest[r.Digest] = r
		t.byName[r.Name] = r
	}
	t.mu.Unlock()
	return toks
}
