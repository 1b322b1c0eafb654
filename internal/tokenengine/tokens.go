package tokenengine

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

var errOperatorToken = errors.New("cannot delete operator token")

// maxConflictRetries bounds how often a write whose record changed underneath (another replica
// wrote it; ErrConflict) is retried on a fresh read.
const maxConflictRetries = 5

// tokens applies the engine's rules (the operator token cannot be deleted, expiry, purge) over a
// Store. Writers in one process are serialised by writeMu; replicas of a shared store are kept
// apart by the store's own preconditions (ErrNameExists, ErrConflict).
type tokens struct {
	clock clock.PassiveClock
	store Store

	writeMu sync.Mutex
}

func newTokens(s Store, c clock.PassiveClock) *tokens {
	return &tokens{clock: c, store: s}
}

// lookup returns the record for a presented token string, or nil when it is unknown. Expiry is
// checked by the caller so that it can tell expired from unknown in metrics.
func (t *tokens) lookup(tok string) *Record {
	if !wellFormedToken(tok) {
		return nil
	}
	return t.store.ByDigest(DigestOf(tok))
}

// authenticate returns the live record for tok, or nil.
func (t *tokens) authenticate(tok string) *Record {
	r := t.lookup(tok)
	if r == nil || !r.live(t.clock.Now()) {
		return nil
	}
	return r
}

// byName returns the record called name, or nil.
func (t *tokens) byName(name string) *Record { return t.store.ByName(name) }

// newRecord describes a token to mint.
type newRecord struct {
	name        string
	admin       bool
	permissions []Permission
	expirySecs  *int64
	createdBy   *uint64
}

// create mints a token, stores its digest and returns the record and the plaintext.
func (t *tokens) create(n newRecord) (*Record, string, error) {
	tok, d, err := newToken()
	if err != nil {
		return nil, "", err
	}
	now := t.clock.Now().UTC().Truncate(time.Millisecond)
	r := &Record{Name: n.name, Digest: d, Admin: n.admin, Permissions: n.permissions, CreatedAt: now, CreatedByTokenID: n.createdBy}
	if n.expirySecs != nil {
		exp := now.Add(time.Duration(*n.expirySecs) * time.Second)
		r.Expiry = &exp
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.store.ByName(n.name) != nil {
		return nil, "", ErrNameExists
	}
	if err := t.store.Create(r); err != nil {
		if errors.Is(err, ErrNameExists) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("storing token: %w", err)
	}
	return r, tok, nil
}

// delete removes the token called name; the operator token cannot be deleted.
func (t *tokens) delete(name string) error {
	if name == AdminTokenName {
		return errOperatorToken
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	switch err := t.store.DeleteName(name); {
	case errors.Is(err, ErrNotFound):
		return err
	case err != nil:
		return fmt.Errorf("deleting token: %w", err)
	}
	return nil
}

// setAdminDigest replaces the operator token's digest (regenerate, or a new admin token file),
// keeping its id; the old string stops working once the index swaps. A missing operator token is
// created. expiry applies only to a new or file-provided token; regenerate keeps no expiry, as
// on the real server. When another replica writes _admin at the same time, the write is retried
// on the fresh record: the last writer wins, as with one replica.
func (t *tokens) setAdminDigest(d Digest, expiry *time.Time, by *uint64) (*Record, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	var err error
	for range maxConflictRetries {
		now := t.clock.Now().UTC().Truncate(time.Millisecond)
		old := t.store.ByName(AdminTokenName)
		if old == nil {
			r := &Record{Name: AdminTokenName, Admin: true, CreatedAt: now, Digest: d, Expiry: expiry}
			if err = t.store.Create(r); err == nil {
				return r, nil
			}
		} else {
			r := *old
			r.Digest, r.Expiry, r.UpdatedAt, r.UpdatedByTokenID = d, expiry, &now, by
			if err = t.store.Update(old, &r); err == nil {
				return &r, nil
			}
		}
		if !errors.Is(err, ErrNameExists) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
			break
		}
		time.Sleep(conflictPause)
	}
	return nil, fmt.Errorf("storing operator token: %w", err)
}

// conflictPause lets the watch deliver another replica's write before a retry reads again.
const conflictPause = 50 * time.Millisecond

// list returns every record, expired ones included (as system.tokens shows them), by id.
func (t *tokens) list() []*Record {
	out := t.store.List()
	slices.SortFunc(out, func(a, b *Record) int {
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
	var victims []*Record
	for _, r := range t.store.List() {
		if r.Expiry != nil && !r.Expiry.After(cutoff) && r.Name != AdminTokenName {
			victims = append(victims, r)
		}
	}
	if len(victims) == 0 {
		return 0, nil
	}
	if err := t.store.Delete(victims...); err != nil {
		return 0, fmt.Errorf("purging expired tokens: %w", err)
	}
	return len(victims), nil
}

// counts returns the number of live and expired tokens, for the metrics gauge.
func (t *tokens) counts() (live, expired int) {
	now := t.clock.Now()
	for _, r := range t.store.List() {
		if r.live(now) {
			live++
		} else {
			expired++
		}
	}
	return live, expired
}

// createAdminIfMissing creates the operator token with digest d unless it exists.
func (t *tokens) createAdminIfMissing(d Digest) (*Record, error) {
	now := t.clock.Now().UTC().Truncate(time.Millisecond)
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.store.ByName(AdminTokenName) != nil {
		return nil, ErrNameExists
	}
	r := &Record{Name: AdminTokenName, Admin: true, CreatedAt: now, Digest: d}
	if err := t.store.Create(r); err != nil {
		if errors.Is(err, ErrNameExists) {
			return nil, err
		}
		return nil, fmt.Errorf("storing operator token: %w", err)
	}
	return r, nil
}
