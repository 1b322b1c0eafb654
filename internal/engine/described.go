package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/lru"
)

// DescribedStore is an engine whose tokens carry a free-text description instead of a unique
// name: InfluxDB 2.x authorizations and Cloud Dedicated database tokens (docs/engines/facts.md §2, §3). The
// adapter stores the engine-side name as the description; DescribedTokens makes such an engine
// behave as if names were unique.
type DescribedStore interface {
	// Tokens returns every live token whose description passes keep, in any order. what
	// describes the call for error messages. It is the only call whose cost grows with the
	// number of tokens; DescribedTokens calls it only on recovery paths.
	Tokens(ctx context.Context, what string, keep func(description string) bool) ([]TokenInfo, error)
	// Get reads one token by the engine's id; live is false when the engine no longer has it
	// (or has it revoked). An answer that cannot tell is an error.
	Get(ctx context.Context, id string) (info TokenInfo, live bool, err error)
	// Delete deletes the token with the engine's id; a token that is already gone is success.
	Delete(ctx context.Context, id string) error
}

// MaxKnownNames bounds the names whose engine ids DescribedTokens remembers (least recently
// used out). A forgotten name costs a listing the next time it is looked up or revoked, and is
// minted like a name never seen; 50,000 names (a few MB) cover 10,000 tokens with their
// predecessors many times over (docs/design.md §8).
const MaxKnownNames = 50_000

// ListingMaxAge is the documented staleness of the shared listing: a listing younger than this
// answers "this name has these tokens" (a Lookup of a name the process has not seen, a Mint's
// check for strays) without a new request. "No such token" is never taken from it, nor the
// completeness a Revoke of a name without known or recorded ids needs: those come from a listing
// that started after the call did. A Revoke by ids adds whatever any kept listing shows.
const ListingMaxAge = time.Minute

// MaxListedTokens bounds the shared listing kept in memory; a larger engine is listed on every
// recovery call instead of being cached.
const MaxListedTokens = 100_000

// DescribedTokens gives a DescribedStore the unique-name semantics of the Engine interface at a
// cost that does not grow with the number of tokens (docs/design.md §3 step 1, §8):
//
//   - Mint creates and remembers the id the engine answered (bounded, MaxKnownNames); a second
//     Mint of a name this process knows is a Conflict without a request. Mints and revokes of one
//     name are serialised within the process.
//   - Lookup and Revoke of a known name read or delete by id: one request each. A Revoke of a
//     name this process has not seen but status recorded the id of (after a restart) reads
//     that id to confirm its name, then deletes it: two requests.
//   - Recovery paths list the engine's tokens once for many callers (one listing in flight, kept
//     for ListingMaxAge): a name this process has not seen (after a restart, another replica's
//     token), a create whose answer was lost (the name is "in doubt" until a listing settles it),
//     and a NotFound by id, which is confirmed by a listing before it is reported.
//
// Changed from the original design: a Mint no longer lists before and after the create, so two
// processes that mint one name at the same moment both keep a token. The lifecycle never lets
// them: only the worker whose status.pending write won the resourceVersion precondition mints a
// name (docs/design.md §3 step 2), and a name of another process is only ever resumed (Lookup)
// or abandoned (Revoke), which list. A stray that a listing has seen (a lost create of this
// process, or one younger than ListingMaxAge) is still a Conflict, and Revoke deletes every
// token of the name that the id or any listing shows.
//
// It implements Revoke, Lookup, List and Check of engine.Engine, so an adapter embeds it and adds
// Mint, which translates the request and calls DescribedTokens.Mint. The zero value is not
// usable; build it with NewDescribedTokens.
type DescribedTokens struct {
	store DescribedStore
	now   func() time.Time
	known *lru.Cache // name → *knownName

	mu      sync.Mutex
	locks   map[string]*nameLock
	listed  *listing // the last complete listing, nil when none is kept
	inquiry *inquiry // the listing in flight, if any
	started uint64   // how many listings have started: orders them against calls
}

// knownName is what this process knows of a name's tokens.
type knownName struct {
	ids   []string // the tokens of the name, oldest first (as minted or listed)
	doubt bool     // a create was sent and no answer says whether it created a token
}

type nameLock struct {
	sync.Mutex
	users int
}

// listing is one complete answer of DescribedStore.Tokens, indexed by name.
type listing struct {
	seq     uint64    // its place among the listings started
	started time.Time // when, for ListingMaxAge
	byName  map[string][]TokenInfo
}

// inquiry is a listing in flight; waiters read l and err after done is closed.
type inquiry struct {
	seq     uint64
	started time.Time
	done    chan struct{}
	l       *listing
	err     error
	// revoked are the names revoked while it was in flight: it may still show their tokens.
	revoked []string
}

// NewDescribedTokens returns a DescribedTokens over store.
func NewDescribedTokens(store DescribedStore) *DescribedTokens {
	return NewDescribedTokensWithClock(store, time.Now)
}

// NewDescribedTokensWithClock is NewDescribedTokens with the clock that ages the shared listing.
func NewDescribedTokensWithClock(store DescribedStore, now func() time.Time) *DescribedTokens {
	return &DescribedTokens{store: store, now: now, known: lru.New(MaxKnownNames), locks: map[string]*nameLock{}}
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

// knownOf returns what the process knows of name, or nil.
func (d *DescribedTokens) knownOf(name string) *knownName {
	if v, ok := d.known.Get(name); ok {
		return v.(*knownName)
	}
	return nil
}

// remember records the ids of name's tokens (oldest first); none forgets the name.
func (d *DescribedTokens) remember(name string, tokens []TokenInfo) {
	if len(tokens) == 0 {
		d.known.Remove(name)
		return
	}
	ids := make([]string, 0, len(tokens))
	for _, t := range sortOldest(tokens) {
		ids = append(ids, t.ID)
	}
	d.known.Add(name, &knownName{ids: ids})
}

// forget drops name from the process's memory and from the kept listing (its tokens were just
// deleted, so the listing would report them).
func (d *DescribedTokens) forget(name string) {
	d.known.Remove(name)
	d.mu.Lock()
	if d.listed != nil {
		delete(d.listed.byName, name)
	}
	if d.inquiry != nil {
		d.inquiry.revoked = append(d.inquiry.revoked, name)
	}
	d.mu.Unlock()
}

// cached returns the tokens the kept listing shows for name if it is younger than
// ListingMaxAge, and whether it is.
func (d *DescribedTokens) cached(name string) ([]TokenInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.listed == nil || d.now().Sub(d.listed.started) > ListingMaxAge {
		return nil, false
	}
	return slices.Clone(d.listed.byName[name]), true
}

// since returns the mark fresh needs: listings started after this call have a larger seq.
func (d *DescribedTokens) since() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.started
}

// fresh returns a listing that started after mark (from since): the one in flight if it did,
// else a new one. Concurrent callers share it, so a burst of recovery calls costs one listing.
func (d *DescribedTokens) fresh(ctx context.Context, mark uint64) (*listing, error) {
	for {
		d.mu.Lock()
		if d.listed != nil && d.listed.seq > mark {
			l := d.listed
			d.mu.Unlock()
			return l, nil
		}
		if q := d.inquiry; q != nil {
			d.mu.Unlock()
			select {
			case <-q.done:
			case <-ctx.Done():
				return nil, Errorf("listing tokens").WithCause(ctx.Err())
			}
			if q.seq > mark {
				return q.l, q.err
			}
			continue // it started too early for this caller: start another
		}
		d.started++
		q := &inquiry{seq: d.started, started: d.now(), done: make(chan struct{})}
		d.inquiry = q
		d.mu.Unlock()
		// The listing serves every waiter, so it runs on its own: one caller's cancellation
		// must not end it for all (the HTTP client's per-attempt timeout and bounded retries
		// end it, httpapi.Config), and this caller waits for it as the others do.
		go d.complete(context.WithoutCancel(ctx), q)
		select {
		case <-q.done:
			return q.l, q.err
		case <-ctx.Done():
			return nil, Errorf("listing tokens").WithCause(ctx.Err())
		}
	}
}

// complete runs the listing q and hands it to its waiters, keeping it when it is small enough.
func (d *DescribedTokens) complete(ctx context.Context, q *inquiry) {
	l, err := d.listAll(ctx, q.seq, q.started)
	d.mu.Lock()
	q.l, q.err = l, err
	d.inquiry = nil
	if err == nil {
		for _, name := range q.revoked {
			delete(l.byName, name)
		}
		if countTokens(l) <= MaxListedTokens {
			d.listed = l
		}
	}
	d.mu.Unlock()
	close(q.done)
}

func countTokens(l *listing) int {
	n := 0
	for _, ts := range l.byName {
		n += len(ts)
	}
	return n
}

// listAll lists every live token of the engine.
func (d *DescribedTokens) listAll(ctx context.Context, seq uint64, started time.Time) (*listing, error) {
	all, err := d.store.Tokens(ctx, "listing tokens", func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	l := &listing{seq: seq, started: started, byName: map[string][]TokenInfo{}}
	for _, t := range all {
		l.byName[t.Name] = append(l.byName[t.Name], t)
	}
	return l, nil
}

// described returns the live tokens named name from a listing that started after the call.
func (d *DescribedTokens) described(ctx context.Context, name string) ([]TokenInfo, error) {
	l, err := d.fresh(ctx, d.since())
	if err != nil {
		return nil, err
	}
	d.mu.Lock() // forget edits kept listings
	tokens := slices.Clone(l.byName[name])
	d.mu.Unlock()
	d.remember(name, tokens)
	return tokens, nil
}

// List returns the tokens whose name starts with prefix, from a new listing.
func (d *DescribedTokens) List(ctx context.Context, prefix string) ([]TokenInfo, error) {
	l, err := d.fresh(ctx, d.since())
	if err != nil {
		return nil, err
	}
	infos := []TokenInfo{}
	d.mu.Lock() // forget edits kept listings
	defer d.mu.Unlock()
	for name, ts := range l.byName {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, ts...)
		}
	}
	return infos, nil
}

// Check lists the tokens: the engine is reachable and the credentials may read tokens; 401/403
// are Unauthorized. The listing is kept for the recovery paths (an engine check every 5 min
// refreshes it).
func (d *DescribedTokens) Check(ctx context.Context) error {
	_, err := d.fresh(ctx, d.since())
	return err
}

// sortOldest returns tokens sorted oldest first (by creation time, then id).
func sortOldest(tokens []TokenInfo) []TokenInfo {
	out := slices.Clone(tokens)
	slices.SortFunc(out, func(a, b TokenInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Mint creates a token named name with create unless one is known to exist (Conflict). create
// performs the engine's create call and is called at most once.
func (d *DescribedTokens) Mint(ctx context.Context, name string, create func(context.Context) (Minted, error)) (Minted, error) {
	defer d.lock(name)()
	k := d.knownOf(name)
	switch {
	case k != nil && k.doubt:
		// An earlier create of this process got no answer: a listing settles whether it made one.
		existing, err := d.described(ctx, name)
		if err != nil {
			return Minted{}, err // still in doubt
		}
		if len(existing) > 0 {
			return Minted{}, ConflictErrorf("minting token %q: a token of that name already exists (id %s)", name, existing[0].ID)
		}
	case k != nil:
		return Minted{}, ConflictErrorf("minting token %q: a token of that name already exists (id %s)", name, k.ids[0])
	default:
		if strays, ok := d.cached(name); ok && len(strays) > 0 {
			d.remember(name, strays)
			return Minted{}, ConflictErrorf("minting token %q: a token of that name already exists (id %s)", name, sortOldest(strays)[0].ID)
		}
	}
	d.known.Add(name, &knownName{doubt: true})
	m, err := create(ctx)
	if err != nil {
		if KindOf(err) != Transient {
			// The engine answered and refused: nothing was created.
			d.known.Remove(name)
		}
		return Minted{}, err
	}
	d.known.Add(name, &knownName{ids: []string{m.ID}})
	return m, nil
}

// Revoke deletes every token named name; none is success. A name this process minted or looked
// up is deleted by the ids it remembers, one recorded in status (id) by that id once the engine
// confirms it still carries name; either way with any token the kept listing shows for the name,
// whatever its age. A name with neither, one in doubt, or a recorded id the engine does not give
// that name (gone, or another's) is listed first: after a restart, revoking 10,000 recorded
// tokens costs 2 requests each, not a listing each (docs/design.md §8).
func (d *DescribedTokens) Revoke(ctx context.Context, name, id string) error {
	defer d.lock(name)()
	k := d.knownOf(name)
	doubt := k != nil && k.doubt
	ids, err := d.revocable(ctx, name, k, id)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if err := d.store.Delete(ctx, id); err != nil {
			// Keep what is left, so that the retry deletes it by id (or lists again, in doubt).
			d.known.Add(name, &knownName{ids: ids[i:], doubt: doubt})
			return err
		}
	}
	d.forget(name)
	if doubt {
		// The create whose answer was lost may still commit after this listing (a slow engine
		// is why it timed out), and the lifecycle mints the name again (rollBackIfNothingLive):
		// that Mint lists once more instead of trusting this one.
		d.known.Add(name, &knownName{doubt: true})
	}
	return nil
}

// revocable returns the ids Revoke deletes for name; k is what the process knows of it, recorded
// the id status holds, or "".
func (d *DescribedTokens) revocable(ctx context.Context, name string, k *knownName, recorded string) ([]string, error) {
	var ids []string
	switch {
	case k != nil && !k.doubt:
		ids = slices.Clone(k.ids)
	case k == nil && recorded != "":
		info, live, err := d.store.Get(ctx, recorded)
		if err != nil {
			return nil, err
		}
		if !live || info.Name != name {
			// Gone by id, which only a listing may conclude (a wrong cluster or a proxy answers
			// 404 too), or status names another name's token (edited): delete only what a
			// listing shows under this name.
			return d.describedIDs(ctx, name)
		}
		ids = []string{recorded}
	default: // never seen, or a create in doubt: only a listing that started now is complete
		return d.describedIDs(ctx, name)
	}
	d.mu.Lock()
	if d.listed != nil {
		for _, t := range d.listed.byName[name] {
			if !slices.Contains(ids, t.ID) {
				ids = append(ids, t.ID)
			}
		}
	}
	d.mu.Unlock()
	return ids, nil
}

// describedIDs is the ids of described.
func (d *DescribedTokens) describedIDs(ctx context.Context, name string) ([]string, error) {
	tokens, err := d.described(ctx, name)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(tokens))
	for i, t := range tokens {
		ids[i] = t.ID
	}
	return ids, nil
}

// Lookup returns the token named name (the oldest, should several exist), or NotFound. A known
// name is read by id; NotFound is only ever answered from a listing that started after the call.
func (d *DescribedTokens) Lookup(ctx context.Context, name string) (TokenInfo, error) {
	defer d.lock(name)()
	if k := d.knownOf(name); k != nil && !k.doubt {
		info, live, err := d.store.Get(ctx, k.ids[0])
		if err != nil {
			return TokenInfo{}, err
		}
		if live {
			if info.Name == "" {
				info.Name = name
			}
			return info, nil
		}
	} else if tokens, ok := d.cached(name); ok && len(tokens) > 0 && k == nil {
		d.remember(name, tokens)
		return sortOldest(tokens)[0], nil
	}
	tokens, err := d.described(ctx, name)
	if err != nil {
		return TokenInfo{}, err
	}
	if len(tokens) == 0 {
		return TokenInfo{}, NotFoundErrorf("looking up token %q: no such token", name)
	}
	return sortOldest(tokens)[0], nil
}
