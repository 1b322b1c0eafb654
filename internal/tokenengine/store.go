package tokenengine

import "errors"

// Errors a Store returns; the HTTP handlers map them to status codes.
var (
	// ErrNameExists: a token with that name exists (409, as on InfluxDB 3).
	ErrNameExists = errors.New("token name already exists")
	// ErrNotFound: no such token (404).
	ErrNotFound = errors.New("token not found")
	// ErrConflict: the record changed since it was read; the caller reads it again and retries.
	ErrConflict = errors.New("token changed concurrently")
)

// Store persists token records and answers every read from memory, so that authorization never
// waits for a disk or a network (docs/token-engine.md, "Stores"). Records are never mutated once
// handed out, only replaced, so callers may keep them. Two implementations pass the contract
// suite in storetest: the bbolt file (one replica) and kubestore (replicas over the Kubernetes
// API).
type Store interface {
	// Create stores r under a fresh id (it sets r.ID) and makes it visible to reads before it
	// returns. It returns ErrNameExists when r.Name is taken.
	Create(r *Record) error
	// Update replaces old, which the caller read from this store, with r (same name). It returns
	// ErrConflict when old is no longer current and ErrNotFound when the token is gone.
	Update(old, r *Record) error
	// Delete removes the given records; records already gone are skipped. It is not atomic
	// across records on every store.
	Delete(rs ...*Record) error
	// DeleteName removes the token called name, whatever version of it exists, even one this
	// replica has not seen yet: a revoke sent right after a mint on another replica must not be
	// answered 404 while the token lives. It returns ErrNotFound when no token has that name.
	DeleteName(name string) error
	// ByDigest returns the record whose token has digest d, or nil.
	ByDigest(d Digest) *Record
	// ByName returns the record called name, or nil.
	ByName(name string) *Record
	// List returns every record, in no particular order.
	List() []*Record
	// Ready returns nil while reads are current, and otherwise why not (not synced yet, or the
	// watch has been broken for too long); the engine then refuses to authorize (503).
	Ready() error
	// Close releases the store.
	Close() error
}
