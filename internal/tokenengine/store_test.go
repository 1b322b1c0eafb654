package tokenengine_test

import (
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/storetest"
)

// TestBoltStoreContract runs the store contract on the bbolt file (one replica: no peers).
func TestBoltStoreContract(t *testing.T) {
	dirs := map[tokenengine.Store]string{}
	openAt := func(t *testing.T, dir string) tokenengine.Store {
		s, err := tokenengine.OpenBoltStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		dirs[s] = dir
		return s
	}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) tokenengine.Store { return openAt(t, t.TempDir()) },
		Reopen: func(t *testing.T, s tokenengine.Store) tokenengine.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return openAt(t, dirs[s])
		},
	})
}
