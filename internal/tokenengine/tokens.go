package tokenengine

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

var (
	errNameExists    = errors.New("token name already exists")
	errNotFound      = errors.New("token not found")
	errOperatorToken = errors.New("cannot delete operator token")
)

// tokens is the in-memory index over the store. Records in it are never mutated, only replaced,
// so a reader may keep a record after releasing the lock. Writers are serialised by writeMu and
// commit to the store before the index changes, so the index never shows an unsaved token and
// authorization never waits for an fsync.
type tokens struct {
	clock clock.PassiveClock
	store *store

	writeMu sync.Mutex

	mu       sync.RWMutex
	byDigest map[digest]*record
	byName   map[string]*record
}

func newTokens(s *store, c clock.PassiveClock) (*tokens, error) {
	all, err := s.loadAll()
	if err != nil {
		return nil, fmt.Errorf("loading tokens: %w", err)
	}
	t := &tokens{clock: c, store: s, byDigest: make(map[digest]*record, len(all)), byName: make(map[string]*record, len(all))}
	for _, r := range all {
		t.byDigest[r.Digest] = r
		t.byName[r.Name] = r
	}
	return t, nil
}

// lookup returns the record for a presented token string, or nil when it is unknown. Expiry is
// checked by the caller so that it can tell expired from unknown in metrics.
func (t *tokens) lookup(tok string) *record {
	if !wellFormedToken(tok) {
		return nil
	}
	d := digestOf(tok)
	t.mu.RLock()
	r := t.byDigest[d]
	t.mu.RUnlock()
	return r
}

// authenticate returns the live record for tok, or nil.
func (t *tokens) authenticate(tok string) *record {
	r := t.lookup(tok)
	if r == nil || !r.live(t.clock.Now()) {
		return nil
	}
	return r
}

// newRecord describes a token to mint.
type newRecord struct {
	name        string
	admin       bool
	permissions []Permission
	expirySecs  *int64
	createdBy   *uint64
}

// create mints a token, stores its digest and returns the record and the plaintext.
func (t *tokens) create(n newRecord) (*record, string, error) {
	tok, d, err := newToken()
	if err != nil {
		return nil, "", err
	}
	now := t.clock.Now().UTC().Truncate(time.Millisecond)
	r := &record{Name: n.name, Digest: d, Admin: n.admin, Permissions: n.permissions, CreatedAt: now, CreatedByTokenID: n.createdBy}
	if n.expirySecs != nil {
		exp := now.Add(time.Duration(*n.expirySecs) * time.Second)
		r.Expiry = &exp
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.byNameLocked(n.name) != nil {
		return nil, "", errNameExists
	}
	if err := t.store.put(r, true); err != nil {
		return nil, "", fmt.Errorf("storing token: %w", err)
	}
	t.mu.Lock()
	t.byDigest[d] = r
	t.byName[r.Name] = r
	t.mu.Unlock()
	return r, tok, nil
}

func (t *tokens) byNameLocked(name string) *record {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byName[name]
}

// delete removes the token called name; the operator token cannot be deleted.
func (t *tokens) delete(name string) error {
	if name == AdminTokenName {
		return errOperatorToken
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	r := t.byNameLocked(name)
	if r == nil {
		return errNotFound
	}
	if err := t.store.remove(r.ID); err != nil {
		return fmt.Errorf("deleting token: %w", err)
	}
	t.mu.Lock()
	delete(t.byDigest, r.Digest)
	delete(t.byName, r.Name)
	t.mu.Unlock()
	return nil
}

// setAdminDigest replaces the operator token's digest (regenerate, or a new admin token file),
// keeping its id; the old string stops working once the index swaps. A nil record is created.
// expiry applies only to a new or file-provided token; regenerate keeps no expiry, as on the
// real server.
func (t *tokens) setAdminDigest(d digest, expiry *time.Time, by *uint64) (*record, error) {
	now := t.clock.Now().UTC().Truncate(time.Millisecond)
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	old := t.byNameLocked(AdminTokenName)
	var r *record
	if old == nil {
		r = &record{Name: AdminTokenName, Admin: true, CreatedAt: now, Digest: d, Expiry: expiry}
	} else {
		cp := *old
		r = &cp
		r.Digest, r.Expiry, r.UpdatedAt, r.UpdatedByTokenID = d, expiry, &now, by
	}
	if err := t.store.put(r, old == nil); err != nil {
		return nil, fmt.Errorf("storing operator token: %w", err)
	}
	t.mu.Lock()
	if old != nil {
		delete(t.byDigest, old.Digest)
	}
	t.byDigest[d] = r
	t.byName[r.Name] = r
	t.mu.Unlock()
	return r, nil
}

// list returns every record, expired ones included (as system.tokens shows them), by id.
func (t *tokens) list() []*record {
	t.mu.RLock()
	out := make([]*record, 0, len(t.byName))
	for _, r := range t.byName {
		out = append(out, r)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b *record) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// purgeExpired deletes records whose expiry passed more than retention ago and returns how many
// it removed. Expired tokens are already refused everywhere; the grace period only keeps them
// visible in system.tokens for a while, as the real server keeps them forever.
func (t *tokens) purgeExpired(retention time.Duration) (int, error) {
	cutoff := t.clock.Now().Add(-retention)
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	var victims []*record
	t.mu.RLock()
	for _, r := range t.byName {
		if r.Expiry != nil && !r.Expiry.After(cutoff) && r.Name != AdminTokenName {
			victims = append(victims, r)
		}
	}
	t.mu.RUnlock()
	if len(victims) == 0 {
		return 0, nil
	}
	ids := make([]uint64, len(victims))
	for i, r := range victims {
		ids[i] = r.ID
	}
	if err := t.store.remove(ids...); err != nil {
		return 0, fmt.Errorf("purging expired tokens: %w", err)
	}
	t.mu.Lock()
	for _, r := range victims {
		delete(t.byDigest, r.Digest)
		delete(t.byName, r.Name)
	}
	t.mu.Unlock()
	return len(victims), nil
}

// counts returns the number of live and expired tokens, for the metrics gauge.
func (t *tokens) counts() (live, expired int) {
	now := t.clock.Now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, r := range t.byName {
		if r.live(now) {
			live++
		} else {
			expired++
		}
	}
	return live, expired
}

// createAdminIfMissing creates the operator token with digest d unless it exists.
func (t *tokens) createAdminIfMissing(d digest) (*record, error) {
	now := t.clock.Now().UTC().Truncate(time.Millisecond)
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.byNameLocked(AdminTokenName) != nil {
		return nil, errNameExists
	}
	r := &record{Name: AdminTokenName, Admin: true, CreatedAt: now, Digest: d}
	if err := t.store.put(r, true); err != nil {
		return nil, fmt.Errorf("storing operator token: %w", err)
	}
	t.mu.Lock()
	t.byDigest[d] = r
	t.byName[r.Name] = r
	t.mu.Unlock()
	return r, nil
}
