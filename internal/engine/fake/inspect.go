package fake

import (
	"crypto/sha256"

	"github.com/tokenops/token-operator/internal/engine"
)

// MintCount returns how many tokens were minted (lost responses included).
func (e *Engine) MintCount() int {
	var n int
	e.locked(func() { n = e.mints })
	return n
}

// RevokeCount returns how many existing tokens were revoked (no-op revokes excluded).
func (e *Engine) RevokeCount() int {
	var n int
	e.locked(func() { n = e.revokes })
	return n
}

// RevokedIDs returns the id each Revoke of name was given, in order ("" where none was).
func (e *Engine) RevokedIDs(name string) []string {
	ids := []string{}
	e.locked(func() {
		for _, c := range e.revokedIDs {
			if c[0] == name {
				ids = append(ids, c[1])
			}
		}
	})
	return ids
}

// Calls returns how many times op was called, failed calls included.
func (e *Engine) Calls(op Op) int {
	var n int
	e.locked(func() { n = e.calls[op] })
	return n
}

// Live returns the tokens that exist and have not expired, sorted by name.
func (e *Engine) Live() []engine.TokenInfo {
	now := e.clock.Now()
	return e.collect(func(t *token) bool { return t.live(now) })
}

// Tokens returns every token that exists, expired ones included, sorted by name.
func (e *Engine) Tokens() []engine.TokenInfo {
	return e.collect(func(*token) bool { return true })
}

// Accepts reports whether plaintext is a token the engine would authenticate now: minted, not
// revoked, not expired.
func (e *Engine) Accepts(plaintext string) bool {
	_, ok := e.find(plaintext)
	return ok
}

// Allows reports whether plaintext authenticates and grants action a on the resource of type t
// named name (InfluxDB 3 authorization: the permission's names include name or are "*").
func (e *Engine) Allows(plaintext string, t engine.ResourceType, name string, a engine.Action) bool {
	tok, ok := e.find(plaintext)
	return ok && engine.Allows(tok.perms, t, name, a)
}

// find returns the live token whose plaintext is given.
func (e *Engine) find(plaintext string) (*token, bool) {
	h := sha256.Sum256([]byte(plaintext))
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.byHash[h]
	if !ok || !t.live(now) {
		return nil, false
	}
	return t, true
}
