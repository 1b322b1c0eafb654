package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// DescribedStore is an engine whose tokens carry a free-text description instead of a unique
// name: InfluxDB 2.x authorizations and Cloud Dedicated database tokens (docs/engines/facts.md §2, §3). The
// adapter stores the engine-side name as the description; DescribedTokens makes such an engine
// behave as if names were unique.
type DescribedStore interface {
	// Tokens returns every live token whose description passes keep, in any order. what
	// describes the call for error messages.
	Tokens(ctx context.Context, what string, keep func(description string) bool) ([]TokenInfo, error)
	// Delete deletes the token with the engine's id; a token that is already gone is success.
	Delete(ctx context.Context, id string) error
}

// DescribedTokens gives a DescribedStore the unique-name semantics of the Engine interface: at
// most one live token per name, Conflict for a second mint, Revoke of every token of a name.
//
//   - Within one process, mints and revokes of one name are serialised.
//   - Across processes (a second operator replica, a lost response followed by a retry), a mint
//     first looks for the name (Conflict if found), creates, then looks again: it keeps its
//     token only if that is the one token of the name, and otherwise deletes it and answers
//     Conflict. Of two racing mints, the later one to create always sees the earlier token, so
//     at most one keeps its token (both may give up; the caller's Conflict path then mints
//     again). Creation times cannot decide instead: a server may stamp a token before it
//     commits it (InfluxDB 2.x does), so the older token can become visible after the newer.
//
// It implements Revoke, Lookup, List and Check of engine.Engine, so an adapter embeds it and adds
// Mint, which translates the request and calls DescribedTokens.Mint. The zero value is not
// usable; build it with NewDescribedTokens.
type DescribedTokens struct {
	store DescribedStore
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	sync.Mutex
	users int
}

// NewDescribedTokens returns a DescribedTokens over store.
func NewDescribedTokens(store DescribedStore) *DescribedTokens {
	return &DescribedTokens{store: store, locks: map[string]*nameLock{}}
}

// lock serialises the callers for name and returns the unlock function.
func (d *DescribedTokens) lock(name string) func() {
	d.mu.Lock()
	l := d.locks[name]
	if l == nil {
		l = &nameLock{}
		d.locks[name] = l
	}
	l.users++
	d.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		d.mu.Lock()
		if l.users--; l.users == 0 {
			delete(d.locks, name)
		}
		d.mu.Unlock()
	}
}

// described returns the live tokens named name.
func (d *DescribedTokens) described(ctx context.Context, name string) ([]TokenInfo, error) {
	return d.store.Tokens(ctx, fmt.Sprintf("looking up token %q", name), func(desc string) bool { return desc == name })
}

// List returns the tokens whose name starts with prefix.
func (d *DescribedTokens) List(ctx context.Context, prefix string) ([]TokenInfo, error) {
	return d.store.Tokens(ctx, fmt.Sprintf("listing tokens with prefix %q", prefix), func(desc string) bool { return strings.HasPrefix(desc, prefix) })
}

// Check lists the tokens (keeping none): the engine is reachable and the credentials may read
// tokens; 401/403 are Unauthorized.
func (d *DescribedTokens) Check(ctx context.Context) error {
	_, err := d.store.Tokens(ctx, "checking the engine", func(string) bool { return false })
	return err
}

// oldest returns the token Lookup reports when several of one name exist for a moment.
func oldest(tokens []TokenInfo) TokenInfo {
	return slices.MinFunc(tokens, func(a, b TokenInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// cleanupTimeout bounds the deletion of a token this process created but must not keep, so that
// a caller's cancelled context does not leave it behind.
const cleanupTimeout = 10 * time.Second

// Mint creates a token named name with create unless one exists (Conflict). create performs the
// engine's create call and is called at most once.
func (d *DescribedTokens) Mint(ctx context.Context, name string, create func(context.Context) (Minted, error)) (Minted, error) {
	defer d.lock(name)()
	existing, err := d.described(ctx, name)
	if err != nil {
		return Minted{}, err
	}
	if len(existing) > 0 {
		return Minted{}, ConflictErrorf("minting token %q: a token of that name already exists (id %s)", name, oldest(existing).ID)
	}
	m, err := create(ctx)
	if err != nil {
		return Minted{}, err
	}
	after, err := d.described(ctx, name)
	if err != nil {
		// The token exists but we cannot tell whether another one won; give it up, so that the
		// retry starts from a clean slate.
		return Minted{}, errors.Join(Errorf("minting token %q: checking that the new token is the only one", name).WithCause(err), d.discard(m.ID))
	}
	for _, t := range after {
		if t.ID != m.ID {
			return Minted{}, errors.Join(ConflictErrorf("minting token %q: a concurrent mint created one too (id %s)", name, t.ID), d.discard(m.ID))
		}
	}
	return m, nil
}

// discard deletes a token this process created and must not keep.
func (d *DescribedTokens) discard(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := d.store.Delete(ctx, id); err != nil {
		return Errorf("deleting the surplus token %s (the next mint's Conflict path removes it)", id).WithCause(err)
	}
	return nil
}

// Revoke deletes every token named name; none is success.
func (d *DescribedTokens) Revoke(ctx context.Context, name string) error {
	defer d.lock(name)()
	tokens, err := d.described(ctx, name)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tokens {
		errs = append(errs, d.store.Delete(ctx, t.ID))
	}
	return errors.Join(errs...)
}

// Lookup returns the token named name (the oldest, should several exist), or NotFound.
func (d *DescribedTokens) Lookup(ctx context.Context, name string) (TokenInfo, error) {
	tokens, err := d.described(ctx, name)
	if err != nil {
		return TokenInfo{}, err
	}
	if len(tokens) == 0 {
		return TokenInfo{}, NotFoundErrorf("looking up token %q: no such token", name)
	}
	return oldest(tokens), nil
}
