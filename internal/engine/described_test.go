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

// memStore is an in-memory engine.DescribedStore: descriptions are not unique, like v2's.
type memStore struct {
	mu      sync.Mutex
	tokens  []engine.TokenInfo
	next    int
	listErr error // returned by Tokens once set
}

func (m *memStore) Tokens(_ context.Context, _ string, keep func(string) bool) ([]engine.TokenInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listErr != nil {
		return nil, m.listErr
	}
	var out []engine.TokenInfo
	for _, t := range m.tokens {
		if keep(t.Name) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (m *memStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, t := range m.tokens {
		if t.ID == id {
			m.tokens = append(m.tokens[:i], m.tokens[i+1:]...)
		}
	}
	return nil
}

// create is the engine's create call: it never conflicts.
func (m *memStore) create(name string) engine.Minted {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	t := engine.TokenInfo{Name: name, ID: fmt.Sprintf("id-%03d", m.next), CreatedAt: time.Unix(int64(m.next), 0)}
	m.tokens = append(m.tokens, t)
	return engine.Minted{Name: name, ID: t.ID, Token: "secret", CreatedAt: t.CreatedAt}
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens)
}

// process is one operator process's engine over a shared memStore.
type process struct {
	*engine.DescribedTokens
	store *memStore
}

func (p process) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	return p.DescribedTokens.Mint(ctx, req.Name, func(context.Context) (engine.Minted, error) { return p.store.create(req.Name), nil })
}

// TestDescribedTokensAcrossProcesses: three DescribedTokens (three operator processes) over one
// store race to mint a name: at most one keeps a token, whatever the interleaving, and the
// others answer Conflict; within one process exactly one mint succeeds.
func TestDescribedTokensAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	for round := range 50 {
		store := &memStore{}
		procs := []engine.Engine{process{engine.NewDescribedTokens(store), store}, process{engine.NewDescribedTokens(store), store}, process{engine.NewDescribedTokens(store), store}}
		wins, errs := enginetest.MintConcurrently(ctx, engine.MintRequest{Name: "n"}, procs...)
		for _, err := range errs {
			if !engine.IsConflict(err) {
				t.Errorf("round %d: %v", round, err)
			}
		}
		if wins > 1 || store.count() != wins {
			t.Fatalf("round %d: %d wins, %d tokens; want at most 1, and as many tokens as wins", round, wins, store.count())
		}
	}
}

// TestDescribedTokensStray: a stray token of the name (a lost attempt) is a Conflict, Lookup
// returns the oldest, Revoke removes them all.
func TestDescribedTokensStray(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	d := engine.NewDescribedTokens(store)
	oldest := store.create("n")
	store.create("n")
	store.create("other")
	calls := 0
	_, err := d.Mint(ctx, "n", func(context.Context) (engine.Minted, error) { calls++; return store.create("n"), nil })
	if !engine.IsConflict(err) || calls != 0 {
		t.Fatalf("Mint over strays: %v after %d creates, want Conflict before any", err, calls)
	}
	if info, err := d.Lookup(ctx, "n"); err != nil || info.ID != oldest.ID {
		t.Fatalf("Lookup = %+v, %v; want the oldest, %s", info, err, oldest.ID)
	}
	if infos, err := d.List(ctx, "o"); err != nil || len(infos) != 1 {
		t.Fatalf("List(o) = %v, %v", infos, err)
	}
	if err := d.Revoke(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(ctx, "n"); !engine.IsNotFound(err) {
		t.Fatalf("Lookup after Revoke: %v, want NotFound", err)
	}
	if store.count() != 1 {
		t.Fatalf("%d tokens left, want only the other name's", store.count())
	}
}

// TestDescribedTokensUncheckable: when the check after the create fails, the new token is
// given up (deleted) and the error is Transient, so the retry starts clean.
func TestDescribedTokensUncheckable(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	d := engine.NewDescribedTokens(store)
	_, err := d.Mint(ctx, "n", func(context.Context) (engine.Minted, error) {
		m := store.create("n")
		store.listErr = errors.New("listing failed")
		return m, nil
	})
	if err == nil || engine.KindOf(err) != engine.Transient {
		t.Fatalf("Mint: %v, want Transient", err)
	}
	if store.count() != 0 {
		t.Fatalf("%d tokens left, want the unconfirmed one deleted", store.count())
	}
}
