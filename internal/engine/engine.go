// Package engine is the narrow interface the controllers use to mint and revoke tokens in a token
// engine (our in-cluster engine, InfluxDB 3 Enterprise, InfluxDB 2.x, Cloud Dedicated, InfluxDB 1.x).
//
// Every adapter lives in its own package (internal/engine/<name>) and passes the one contract suite
// in internal/engine/enginetest. Errors are typed (see errors.go) so that the controllers map them
// to conditions and requeues in exactly one place.
package engine

import (
	"context"
	"time"
)

// ResourceType is the kind of thing a permission grants access to, in InfluxDB 3's terms.
type ResourceType string

const (
	// ResourceDatabase grants access to databases (InfluxDB 3 `db`, a bucket on 2.x, a database on 1.x).
	ResourceDatabase ResourceType = "db"
	// ResourceSystem grants read access to system endpoints (health, metrics, ping, ready).
	ResourceSystem ResourceType = "system"
)

// Action is what a permission allows on its resources.
type Action string

const (
	// ActionRead allows queries (databases) or reads (system endpoints).
	ActionRead Action = "read"
	// ActionWrite allows writes; databases only.
	ActionWrite Action = "write"
)

// Wildcard as the only name of a permission means every resource of its type.
const Wildcard = "*"

// Permission grants Actions on the named resources of one type. Names is either a list of
// concrete names or exactly [Wildcard].
type Permission struct {
	Type    ResourceType
	Names   []string
	Actions []Action
}

// MintRequest asks an engine for a new token.
type MintRequest struct {
	// Name is the deterministic engine-side name (docs/design.md §3). Engines that enforce unique names
	// answer a duplicate with a Conflict error; the others are made to behave the same by the adapter.
	Name string
	// Permissions are translated by each adapter into its own model; a shape the engine cannot
	// express is a Permanent error.
	Permissions []Permission
	// TTL is the token lifetime from creation; zero means the token does not expire.
	TTL time.Duration
}

// Minted is what a successful Mint returns. Token is the plaintext and exists only here and in
// the Secret the controller writes; it never appears in logs, status or errors.
type Minted struct {
	// Name is the engine-side name the token was minted under.
	Name string
	// ID is the engine's own handle for the token (InfluxDB 3 token id, 2.x authorization id,
	// Cloud Dedicated token UUID, 1.x username).
	ID string
	// Token is the plaintext credential, redacted when formatted.
	Token Plaintext
	// SecretData holds extra credential keys the engine needs beside `token` (for InfluxDB 1.x,
	// `username` and `password`). Values are plaintext credentials too.
	SecretData map[string]Plaintext
	// CreatedAt is when the engine created the token.
	CreatedAt time.Time
	// ExpiresAt is when the engine will stop accepting the token; nil means never (the operator
	// still revokes at the resource's expiry on engines without native expiry).
	ExpiresAt *time.Time
	// Notice is a human message about the new token that belongs in the status message, e.g.
	// Cloud Dedicated's activation delay. Empty when there is nothing to say.
	Notice string
}

// TokenInfo is a token's metadata as an engine reports it; it never carries the plaintext.
type TokenInfo struct {
	Name      string
	ID        string
	CreatedAt time.Time
	// ExpiresAt is nil when the token never expires.
	ExpiresAt *time.Time
}

// Engine is the interface every token engine adapter implements.
type Engine interface {
	// Mint creates a token named req.Name. A token of that name that already exists is a
	// Conflict error: the caller revokes it and mints again (docs/design.md §3).
	Mint(ctx context.Context, req MintRequest) (Minted, error)
	// Revoke deletes every token named name. Revoking a token that does not exist is success.
	// id is the engine's id for the name's token as an engine answer gave it (status records it
	// as tokenID), or "" when none is recorded. An engine whose names are unique ignores it; one
	// whose names are not (DescribedTokens) deletes by it instead of listing every token, once
	// the engine confirms that the id still carries name: status is not trusted to point at
	// another resource's token (docs/design.md §8).
	Revoke(ctx context.Context, name, id string) error
	// Lookup returns the metadata of the token named name, or a NotFound error.
	Lookup(ctx context.Context, name string) (TokenInfo, error)
	// List returns the metadata of every token whose name starts with prefix.
	List(ctx context.Context, prefix string) ([]TokenInfo, error)
	// Check verifies that the engine is reachable and that the credentials work.
	Check(ctx context.Context) error
}
