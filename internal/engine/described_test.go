package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
)

// memStore is an in-memory engine.DescribedStore: descriptions are not unique, like v2's. It
// counts its calls by method and the tokens it listed.
type memStore struct {
	mu      sync.Mutex
	tokens  []engine.TokenInfo
	next    int
	listErr error // returned by Tokens once set
	calls   map[string]int
	listed  int
}

func (m *memStore) count(call string) {
	if m.calls == nil {
		m.calls = map[string]int{}
	}
	m.calls[call]++
}

func (m *memStore) Tokens(_ context.Context, _ string, keep func(string) bool) ([]engine.TokenInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("list")
	if m.listErr != nil {
		return nil, m.listErr
	}
	var out []engine.TokenInfo
	for _, t := range m.tokens {
		m.listed++
		if keep(t.Name) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *memStore) Get(_ context.Context, id string) (engine.TokenInfo, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("get")
	for _, t := range m.tokens {
		if t.ID == id {
			return t, true, nil
		}
	}
	return engine.TokenInfo{}, false, nil
}

func (m *memStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("delete")
	for i, t := range m.tokens {
		if t.ID == id {
			m.tokens = append(m.tokens[:i], m.tokens[i+1:]...)
			break
		}
	}
	return nil
}

// create is the engine's create call: it never conflicts.
func (m *memStore) create(name string) engine.Minted {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("create")
	m.next++
	t := engine.TokenInfo{Name: name, ID: fmt.Sprintf("id-%03d", m.next), CreatedAt: time.Unix(int64(m.next), 0)}
	m.tokens = append(m.tokens, t)
	return engine.Minted{Name: name, ID: t.ID, Token: "secret", CreatedAt: t.CreatedAt}
}

func (m *memStore) live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens)
}

// liveNamed counts the tokens named name.
func (m *memStore) liveNamed(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range m.tokens {
		if t.Name == name {
			n++
		}
	}
	return n
}

// takeCalls returns the calls counted so far and starts again.
func (m *memStore) takeCalls() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = map[string]int{}
	return c
}

// gatedStore holds its first listing until release is closed, so that a test knows which
// calls arrived while a listing was in flight.
type gatedStore struct {
	*memStore
	once    sync.Once
	entered chan struct{} // closed when the first listing starts
	release chan struct{}
}

func (g *gatedStore) Tokens(ctx context.Context, what string, keep func(string) bool) ([]engine.TokenInfo, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.memStore.Tokens(ctx, what, keep)
}

// waitingCtx calls waiting the first time its Done is asked for. A call that waits for the
// shared listing watches its context while it waits (DescribedTokens.fresh), and a revoke over a
// memStore asks for Done nowhere else, so this is when the revoke starts waiting for a listing.
type waitingCtx struct {
	context.Context
	once    sync.Once
	waiting func()
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(c.waiting)
	return c.Context.Done()
}

// process is one operator process's engine over a shared memStore.
type process struct {
	*engine.DescribedTokens
	store *memStore
}

func newProcess(store *memStore, now func() time.Time) process {
	return process{engine.NewDescribedTokensWithClock(store, now), store}
}

func (p process) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	return p.DescribedTokens.Mint(ctx, req.Name, func(context.Context) (engine.Minted, error) { return p.store.create(req.Name), nil })
}

// clock is a settable clock for the listing's age.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestDescribedTokensInProcess: concurrent mints of one name in one process: exactly one
// succeeds, the others are Conflicts, and none of them lists.
func TestDescribedTokensInProcess(t *testing.T) {
	ctx := context.Background()
	for round := range 50 {
		store := &memStore{}
		p := newProcess(store, time.Now)
		wins, errs := enginetest.MintConcurrently(ctx, engine.MintRequest{Name: "n"}, p, p, p, p)
		for _, err := range errs {
			if !engine.IsConflict(err) {
				t.Errorf("round %d: %v", round, err)
			}
		}
		if wins != 1 || store.live() != 1 {
			t.Fatalf("round %d: %d wins, %d tokens; want 1 and 1", round, wins, store.live())
		}
		if c := store.takeCalls(); c["list"] != 0 || c["create"] != 1 {
			t.Fatalf("round %d: calls %v, want one create and no listing", round, c)
		}
	}
}

// TestDescribedTokensCosts: what each call costs by id, and that a burst of recovery calls
// (a restarted process looking up and revoking names it never saw) shares one listing; a burst
// of revokes during a listing shares exactly one more.
func TestDescribedTokensCosts(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1e9, 0)}
	store := &memStore{}
	a := newProcess(store, clk.now)
	const n = 1000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("k8s.ns.t%04d.abcd1234.r1", i)
		if _, err := a.Mint(ctx, engine.MintRequest{Name: names[i]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if _, err := a.Lookup(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if c := store.takeCalls(); c["create"] != n || c["get"] != n || c["list"] != 0 {
		t.Fatalf("%d mints and lookups: calls %v, want %d creates, %d gets, no listing", n, c, n, n)
	}

	// A new process: the first lookup lists, the others use that listing.
	b := newProcess(store, clk.now)
	for _, name := range names {
		if _, err := b.Lookup(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if c := store.takeCalls(); c["list"] != 1 || c["get"] != 0 {
		t.Fatalf("a new process's %d lookups: calls %v, want one listing", n, c)
	}
	for _, name := range names[:n/2] {
		if err := b.Revoke(ctx, name, ""); err != nil {
			t.Fatal(err)
		}
	}
	if c := store.takeCalls(); c["list"] != 0 || c["delete"] != n/2 {
		t.Fatalf("revoking %d looked-up names: calls %v, want deletes by id only", n/2, c)
	}
	// A third process revokes names it never saw, all at once, while its engine check's listing
	// is in flight: that listing started before them, so it cannot tell them "gone" (docs/design.md
	// §3 step 1), and they all share the next one. The check's listing is held until every revoke
	// waits for it, so the count does not depend on how the 500 goroutines are scheduled.
	gated := &gatedStore{memStore: store, entered: make(chan struct{}), release: make(chan struct{})}
	c3 := engine.NewDescribedTokensWithClock(gated, clk.now)
	checked := make(chan error, 1)
	go func() { checked <- c3.Check(ctx) }()
	<-gated.entered
	var wg, waiting sync.WaitGroup
	waiting.Add(n / 2)
	for _, name := range names[n/2:] {
		wg.Go(func() {
			if err := c3.Revoke(&waitingCtx{Context: ctx, waiting: waiting.Done}, name, ""); err != nil {
				t.Error(err)
			}
		})
	}
	allWaiting := make(chan struct{})
	go func() { waiting.Wait(); close(allWaiting) }()
	select {
	case <-allWaiting:
	case <-time.After(time.Minute):
		t.Errorf("revoking %d unseen names: not all of them waited for the listing in flight", n/2)
	}
	close(gated.release)
	if err := <-checked; err != nil {
		t.Error(err)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// n/2 deletes and no token left (below): each was deleted once.
	if c := store.takeCalls(); c["list"] != 2 || c["delete"] != n/2 {
		t.Fatalf("revoking %d unseen names during a listing: calls %v, want 2 listings (the one in flight and one after it) and %d deletes", n/2, c, n/2)
	}
	if store.live() != 0 {
		t.Fatalf("%d tokens left", store.live())
	}
}

// TestDescribedTokensNotFoundIsListed: a NotFound is never answered from a stale listing or a
// 404 by id alone: a token another process minted after the listing is found.
func TestDescribedTokensNotFoundIsListed(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1e9, 0)}
	store := &memStore{}
	a, b := newProcess(store, clk.now), newProcess(store, clk.now)
	if err := b.Check(ctx); err != nil { // b keeps a listing without the name
		t.Fatal(err)
	}
	clk.advance(time.Second)
	m, err := a.Mint(ctx, engine.MintRequest{Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := b.Lookup(ctx, "n"); err != nil || info.ID != m.ID {
		t.Fatalf("Lookup by another process = %+v, %v; want %s", info, err, m.ID)
	}
	// Known by id, deleted behind b's back: Get says gone, a listing confirms.
	if err := a.Revoke(ctx, "n", ""); err != nil {
		t.Fatal(err)
	}
	store.takeCalls()
	if _, err := b.Lookup(ctx, "n"); !engine.IsNotFound(err) {
		t.Fatalf("Lookup of a revoked token: %v, want NotFound", err)
	}
	if c := store.takeCalls(); c["get"] != 1 || c["list"] != 1 {
		t.Fatalf("calls %v, want a get and the confirming listing", c)
	}
}

// TestDescribedTokensStray: a stray of the name that a listing has seen (another process's
// lost attempt) is a Conflict; Lookup returns the oldest; Revoke removes them all and the next
// Mint succeeds (the Conflict path of docs/design.md §3 step 3).
func TestDescribedTokensStray(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	d := newProcess(store, time.Now)
	oldest := store.create("n")
	store.create("n")
	store.create("other")
	if err := d.Check(ctx); err != nil { // the engine check keeps a listing
		t.Fatal(err)
	}
	calls := 0
	_, err := d.DescribedTokens.Mint(ctx, "n", func(context.Context) (engine.Minted, error) { calls++; return store.create("n"), nil })
	if !engine.IsConflict(err) || calls != 0 {
		t.Fatalf("Mint over strays: %v after %d creates, want Conflict before any", err, calls)
	}
	if info, err := d.Lookup(ctx, "n"); err != nil || info.ID != oldest.ID {
		t.Fatalf("Lookup = %+v, %v; want the oldest, %s", info, err, oldest.ID)
	}
	if infos, err := d.List(ctx, "o"); err != nil || len(infos) != 1 {
		t.Fatalf("List(o) = %v, %v", infos, err)
	}
	if err := d.Revoke(ctx, "n", ""); err != nil {
		t.Fatal(err)
	}
	if store.live() != 1 {
		t.Fatalf("%d tokens left, want only the other name's", store.live())
	}
	if _, err := d.Lookup(ctx, "n"); !engine.IsNotFound(err) {
		t.Fatalf("Lookup after Revoke: %v, want NotFound", err)
	}
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "n"}); err != nil {
		t.Fatalf("Mint after Revoke: %v", err)
	}
}

// TestDescribedTokensLostAnswer: a create whose answer is lost (a Transient error after the
// engine created the token) leaves the name in doubt: the next Mint lists, finds the token and
// answers Conflict; Revoke lists and deletes it, and one that runs before the engine commits
// the token leaves the name in doubt. A refusal (not Transient) leaves no doubt.
func TestDescribedTokensLostAnswer(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	d := newProcess(store, time.Now)
	_, err := d.DescribedTokens.Mint(ctx, "n", func(context.Context) (engine.Minted, error) {
		store.create("n")
		return engine.Minted{}, engine.Errorf("connection reset")
	})
	if engine.KindOf(err) != engine.Transient {
		t.Fatalf("Mint: %v, want the Transient error", err)
	}
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "n"}); !engine.IsConflict(err) {
		t.Fatalf("Mint after a lost answer: %v, want Conflict", err)
	}
	if err := d.Revoke(ctx, "n", ""); err != nil || store.live() != 0 {
		t.Fatalf("Revoke: %v, %d tokens left", err, store.live())
	}
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "n"}); err != nil {
		t.Fatalf("Mint after Revoke: %v", err)
	}

	// The lifecycle's roll-back: a lost create revoked at once, before the engine committed it;
	// the token appears after that revoke's listing, and the next Mint of the name still finds it.
	_, _ = d.DescribedTokens.Mint(ctx, "l", func(context.Context) (engine.Minted, error) {
		return engine.Minted{}, engine.Errorf("timeout")
	})
	if err := d.Revoke(ctx, "l", ""); err != nil {
		t.Fatal(err)
	}
	store.create("l") // the engine commits the timed-out create
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "l"}); !engine.IsConflict(err) {
		t.Fatalf("Mint after a revoke of a name in doubt and a late commit: %v, want Conflict", err)
	}
	if err := d.Revoke(ctx, "l", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "l"}); err != nil {
		t.Fatalf("Mint after the late token's revoke: %v", err)
	}
	if n := store.liveNamed("l"); n != 1 {
		t.Fatalf("%d tokens named l, want 1", n)
	}

	store.takeCalls()
	_, err = d.DescribedTokens.Mint(ctx, "m", func(context.Context) (engine.Minted, error) {
		return engine.Minted{}, engine.PermanentErrorf("bad request")
	})
	if !engine.IsPermanent(err) {
		t.Fatalf("Mint: %v", err)
	}
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "m"}); err != nil {
		t.Fatalf("Mint after a refusal: %v", err)
	}
	if c := store.takeCalls(); c["list"] != 0 {
		t.Fatalf("a refused create listed: %v", c)
	}
}

// TestDescribedTokensListingErrors: a failed listing is the error of the call that needed it,
// and a name in doubt stays in doubt.
func TestDescribedTokensListingErrors(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	d := newProcess(store, time.Now)
	_, _ = d.DescribedTokens.Mint(ctx, "n", func(context.Context) (engine.Minted, error) {
		store.create("n")
		return engine.Minted{}, engine.Errorf("timeout")
	})
	store.listErr = errors.New("listing failed")
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "n"}); err == nil {
		t.Fatal("Mint in doubt succeeded without a listing")
	}
	store.listErr = nil
	if _, err := d.Mint(ctx, engine.MintRequest{Name: "n"}); !engine.IsConflict(err) {
		t.Fatalf("Mint: %v, want Conflict", err)
	}
}

// TestDescribedTokensRevokeByRecordedID: a process that has seen nothing of a name (a restart)
// revokes it by the id status recorded: a read that confirms the name and a delete, no listing;
// a stray of the name that a kept listing shows goes too. An id that the engine gives another
// name (an edited status) deletes nothing of that name: a listing finds the name's own tokens.
// An id the engine reports gone is confirmed by a listing, as every "gone" is.
func TestDescribedTokensRevokeByRecordedID(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	a, b := store.create("a"), store.create("b")
	d := newProcess(store, time.Now)
	store.takeCalls()
	if err := d.Revoke(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	if c := store.takeCalls(); c["get"] != 1 || c["delete"] != 1 || c["list"] != 0 {
		t.Fatalf("Revoke by a recorded id: calls %v, want one get and one delete", c)
	}

	stray := store.create("b") // a lost create's token, which the engine check's listing sees
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	store.takeCalls()
	if err := d.Revoke(ctx, "b", b.ID); err != nil {
		t.Fatal(err)
	}
	if c := store.takeCalls(); c["list"] != 0 || c["delete"] != 2 || store.live() != 0 {
		t.Fatalf("Revoke by id with a listed stray %s: calls %v, %d tokens left; want both deleted without a listing", stray.ID, c, store.live())
	}

	victim, own := store.create("victim"), store.create("c")
	f := newProcess(store, time.Now)
	if err := f.Revoke(ctx, "c", victim.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lookup(ctx, "victim"); err != nil {
		t.Fatalf("the token whose id an edited status named: %v, want it live", err)
	}
	if _, err := f.Lookup(ctx, "c"); !engine.IsNotFound(err) {
		t.Fatalf("the name's own token %s after its Revoke: %v, want NotFound", own.ID, err)
	}

	// A recorded id the engine does not know (a proxy's 404, an edited status) while the name's
	// token lives under another: the listing finds it.
	live := store.create("d")
	if err := newProcess(store, time.Now).Revoke(ctx, "d", "id-999"); err != nil {
		t.Fatal(err)
	}
	if n := store.liveNamed("d"); n != 0 {
		t.Fatalf("Revoke(d) given an unknown id left %d of its tokens (%s)", n, live.ID)
	}

	g := newProcess(store, time.Now)
	store.takeCalls()
	if err := g.Revoke(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	if c := store.takeCalls(); c["get"] != 1 || c["list"] != 1 || c["delete"] != 0 {
		t.Fatalf("Revoke by an id already gone: calls %v, want a get and the listing that confirms it", c)
	}
}

// TestDescribedTokensListingOutlivesItsStarter: the caller that started the shared listing gives
// up as soon as its context ends, not when the listing does (it used to block in it until the
// engine answered), and a caller that arrived meanwhile still gets its answer.
func TestDescribedTokensListingOutlivesItsStarter(t *testing.T) {
	store := &memStore{}
	store.create("n")
	gated := &gatedStore{memStore: store, entered: make(chan struct{}), release: make(chan struct{})}
	d := engine.NewDescribedTokens(gated)
	starter, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() { started <- d.Check(starter) }()
	<-gated.entered
	waiter := make(chan error, 1)
	go func() { _, err := d.Lookup(context.Background(), "n"); waiter <- err }()
	cancel()
	if err := <-started; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled starter: %v, want its context's error", err)
	}
	close(gated.release)
	if err := <-waiter; err != nil {
		t.Fatalf("a waiter of the listing its starter gave up: %v, want the token", err)
	}
}
