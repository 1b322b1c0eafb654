package fake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/tokenops/token-operator/internal/engine"
)

// TokenPrefix starts every token the fake mints, as on InfluxDB 3.
const TokenPrefix = "apiv3_"

// Op names an Engine operation for error injection and call counts.
type Op string

// The operations of engine.Engine.
const (
	OpMint   Op = "Mint"
	OpRevoke Op = "Revoke"
	OpLookup Op = "Lookup"
	OpList   Op = "List"
	OpCheck  Op = "Check"
)

type token struct {
	info  engine.TokenInfo
	perms []engine.Permission
	hash  [sha256.Size]byte
}

// Engine is the in-memory engine. Create it with New.
type Engine struct {
	clock clock.PassiveClock

	mu        sync.Mutex
	tokens    map[string]*token // by name
	byHash    map[[sha256.Size]byte]*token
	nextID    uint64
	databases map[string]bool // nil: every database exists
	mints     int
	revokes   int
	calls     map[Op]int
	// revokedIDs is every Revoke call's name and id, in order.
	revokedIDs [][2]string
	faults
}

var _ engine.Engine = (*Engine)(nil)

// Option configures New.
type Option func(*Engine)

// WithClock sets the clock that decides expiry and timestamps (a testing clock in most tests).
func WithClock(c clock.PassiveClock) Option { return func(e *Engine) { e.clock = c } }

// WithDatabases makes only the named databases exist; minting for another one is a Pending
// DatabaseNotFound error, as on InfluxDB 3. Without it every database exists.
func WithDatabases(names ...string) Option {
	return func(e *Engine) {
		e.databases = map[string]bool{}
		for _, n := range names {
			e.databases[n] = true
		}
	}
}

// New returns an empty engine.
func New(opts ...Option) *Engine {
	e := &Engine{clock: clock.RealClock{}, tokens: map[string]*token{}, byHash: map[[sha256.Size]byte]*token{}, calls: map[Op]int{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// AddDatabase creates a database (see WithDatabases).
func (e *Engine) AddDatabase(name string) {
	e.locked(func() {
		if e.databases == nil {
			e.databases = map[string]bool{}
		}
		e.databases[name] = true
	})
}

// Mint implements engine.Engine.
func (e *Engine) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	if err := e.enter(ctx, OpMint, req.Name); err != nil {
		return engine.Minted{}, err
	}
	if err := req.Validate(); err != nil {
		return engine.Minted{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if missing := e.missingDatabases(req.Permissions); len(missing) > 0 {
		return engine.Minted{}, engine.DatabaseNotFound(req.Name, missing)
	}
	if _, ok := e.tokens[req.Name]; ok {
		return engine.Minted{}, engine.ConflictErrorf("minting token %q: token name already exists", req.Name)
	}
	plain := newPlaintext()
	e.nextID++
	now := e.clock.Now()
	t := &token{
		info:  engine.TokenInfo{Name: req.Name, ID: strconv.FormatUint(e.nextID, 10), CreatedAt: now, ExpiresAt: engine.ExpiresAt(now, req.TTL)},
		perms: clonePermissions(req.Permissions),
		hash:  sha256.Sum256([]byte(plain)),
	}
	e.tokens[req.Name] = t
	e.byHash[t.hash] = t
	e.mints++
	if e.loseMint > 0 {
		e.loseMint--
		return engine.Minted{}, engine.Errorf("minting token %q: response lost (injected)", req.Name)
	}
	return engine.Minted{Name: req.Name, ID: t.info.ID, Token: engine.Plaintext(plain), CreatedAt: now, ExpiresAt: t.info.ExpiresAt}, nil
}

// Revoke implements engine.Engine; revoking an unknown name is success. Names are unique here,
// so id is only recorded (RevokedIDs), as the caller passed it.
func (e *Engine) Revoke(ctx context.Context, name, id string) error {
	if err := e.enter(ctx, OpRevoke, name); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.revokedIDs = append(e.revokedIDs, [2]string{name, id})
	if t, ok := e.tokens[name]; ok {
		delete(e.tokens, name)
		delete(e.byHash, t.hash)
		e.revokes++
	}
	return nil
}

// Lookup implements engine.Engine. Like InfluxDB 3, it still reports expired tokens until they
// are revoked.
func (e *Engine) Lookup(ctx context.Context, name string) (engine.TokenInfo, error) {
	if err := e.enter(ctx, OpLookup, name); err != nil {
		return engine.TokenInfo{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tokens[name]
	if !ok {
		return engine.TokenInfo{}, engine.NotFoundErrorf("looking up token %q: no such token", name)
	}
	return t.info, nil
}

// List implements engine.Engine, sorted by name; expired tokens are included.
func (e *Engine) List(ctx context.Context, prefix string) ([]engine.TokenInfo, error) {
	if err := e.enter(ctx, OpList, prefix); err != nil {
		return nil, err
	}
	return e.collect(func(t *token) bool { return strings.HasPrefix(t.info.Name, prefix) }), nil
}

// Check implements engine.Engine.
func (e *Engine) Check(ctx context.Context) error { return e.enter(ctx, OpCheck, "") }

func (e *Engine) missingDatabases(perms []engine.Permission) []string {
	if e.databases == nil {
		return nil
	}
	var missing []string
	for _, db := range engine.Databases(perms) {
		if db != engine.Wildcard && !e.databases[db] {
			missing = append(missing, db)
		}
	}
	return missing
}

func (e *Engine) collect(keep func(*token) bool) []engine.TokenInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []engine.TokenInfo
	for _, t := range e.tokens {
		if keep(t) {
			out = append(out, t.info)
		}
	}
	slices.SortFunc(out, func(a, b engine.TokenInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// newPlaintext makes a token shaped like InfluxDB 3's: apiv3_ + base64url(64 random bytes).
func newPlaintext() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func clonePermissions(ps []engine.Permission) []engine.Permission {
	out := make([]engine.Permission, len(ps))
	for i, p := range ps {
		out[i] = engine.Permission{Type: p.Type, Names: slices.Clone(p.Names), Actions: slices.Clone(p.Actions)}
	}
	return out
}

func (t *token) live(now time.Time) bool {
	return t.info.ExpiresAt == nil || now.Before(*t.info.ExpiresAt)
}
