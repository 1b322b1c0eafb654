package tokenengine

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoreFileName is the bbolt file inside the data directory.
const StoreFileName = "tokens.db"

var bucketTokens = []byte("tokens")

// store persists token records in one bbolt file. bbolt fsyncs on every commit (NoSync stays
// false), so a 201 is only sent after the record is on disk and survives kill -9.
type store struct {
	db *bolt.DB
}

func openStore(dataDir string) (*store, error) {
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
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

// loadAll reads every record; called once at start to build the in-memory index.
func (s *store) loadAll() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			r, err := unmarshalRecord(v)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// put writes r, assigning an id first when r.ID is zero. ids start at 0 for the first token as on
// InfluxDB 3, so the sequence is offset by one.
func (s *store) put(r *record, assignID bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if assignID {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			r.ID = seq - 1
		}
		v, err := r.marshal()
		if err != nil {
			return err
		}
		return b.Put(idKey(r.ID), v)
	})
}

// remove deletes the records with the given ids in one transaction.
func (s *store) remove(ids ...uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		for _, id := range ids {
			if err := b.Delete(idKey(id)); err != nil {
				return err
			}
		}
		return nil
	})
}
