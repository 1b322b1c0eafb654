package tokenengine

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoreFileName is the bbolt file inside the data directory.
const StoreFileName = "tokens.db"

var bucketTokens = []byte("tokens")

// BoltStore keeps token records in one bbolt file, for a single replica. bbolt fsyncs on every
// commit (NoSync stays false), so a 201 is only sent after the record is on disk and survives
// kill -9. Reads come from an in-memory index loaded at open and changed only after a commit.
type BoltStore struct {
	db *bolt.DB

	writeMu sync.Mutex // serialises check-then-write

	mu       sync.RWMutex
	byDigest map[Digest]*Record
	byName   map[string]*Record
}

var _ Store = (*BoltStore)(nil)

// OpenBoltStore opens (or creates) the store file in dataDir and loads every record.
func OpenBoltStore(dataDir string) (*BoltStore, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dataDir, StoreFileName), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening token store: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketTokens)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialising token store: %w", err)
	}
	s := &BoltStore{db: db, byDigest: map[Digest]*Record{}, byName: map[string]*Record{}}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(_, v []byte) error {
			r, err := unmarshalRecord(v)
			if err != nil {
				return err
			}
			s.byDigest[r.Digest], s.byName[r.Name] = r, r
			return nil
		})
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("loading tokens: %w", err)
	}
	return s, nil
}

// Close closes the file.
func (s *BoltStore) Close() error { return s.db.Close() }

// Ready is always nil: the index is the file's content.
func (s *BoltStore) Ready() error { return nil }

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

// Create assigns the next id: ids start at 0 for the first token as on InfluxDB 3, so the bbolt
// sequence is offset by one.
func (s *BoltStore) Create(r *Record) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.ByName(r.Name) != nil {
		return ErrNameExists
	}
	if err := s.updateTokens(func(b *bolt.Bucket) error {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		r.ID = seq - 1
		return putRecord(b, r)
	}); err != nil {
		return err
	}
	s.swap(nil, r)
	return nil
}

// Update replaces old with r.
func (s *BoltStore) Update(old, r *Record) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur := s.ByName(old.Name)
	switch {
	case cur == nil:
		return ErrNotFound
	case cur != old:
		return ErrConflict
	}
	if err := s.updateTokens(func(b *bolt.Bucket) error { return putRecord(b, r) }); err != nil {
		return err
	}
	s.swap(old, r)
	return nil
}

// updateTokens runs f on the tokens bucket in one write transaction.
func (s *BoltStore) updateTokens(f func(b *bolt.Bucket) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return f(tx.Bucket(bucketTokens)) })
}

// Delete removes records in one transaction.
func (s *BoltStore) Delete(rs ...*Record) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.updateTokens(func(b *bolt.Bucket) error {
		for _, r := range rs {
			if err := b.Delete(idKey(r.ID)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, r := range rs {
		if s.ByName(r.Name) == r {
			s.swap(r, nil)
		}
	}
	return nil
}

// DeleteName implements Store.
func (s *BoltStore) DeleteName(name string) error {
	r := s.ByName(name)
	if r == nil {
		return ErrNotFound
	}
	return s.Delete(r)
}

// PutRaw writes records as they are, ids included, bypassing name checks, in one transaction
// and raises the id sequence past them: for migrations and benchmark seeding.
func (s *BoltStore) PutRaw(rs ...*Record) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.updateTokens(func(b *bolt.Bucket) error {
		for _, r := range rs {
			if r.ID >= b.Sequence() {
				if err := b.SetSequence(r.ID + 1); err != nil {
					return err
				}
			}
			if err := putRecord(b, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, r := range rs {
		s.swap(s.ByName(r.Name), r)
	}
	return nil
}

func putRecord(b *bolt.Bucket, r *Record) error {
	v, err := r.marshal()
	if err != nil {
		return err
	}
	return b.Put(idKey(r.ID), v)
}

// swap replaces old (may be nil) by r (may be nil) in the index.
func (s *BoltStore) swap(old, r *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old != nil {
		delete(s.byDigest, old.Digest)
		delete(s.byName, old.Name)
	}
	if r != nil {
		s.byDigest[r.Digest], s.byName[r.Name] = r, r
	}
}

// ByDigest implements Store.
func (s *BoltStore) ByDigest(d Digest) *Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byDigest[d]
}

// ByName implements Store.
func (s *BoltStore) ByName(name string) *Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byName[name]
}

// List implements Store.
func (s *BoltStore) List() []*Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Record, 0, len(s.byName))
	for _, r := range s.byName {
		out = append(out, r)
	}
	return out
}
