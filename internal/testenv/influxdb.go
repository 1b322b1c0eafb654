package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Received is one request as a Recorder saw it.
type Received struct {
	Method, URI, Auth, Body string
	Header                  http.Header
}

// Recorder is an InfluxDB stand-in that records every request and answers as InfluxDB would
// (204 for writes, 200 with an empty result otherwise), so a test can assert what reached the
// database through a gateway, not only the status the client saw.
type Recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []Received
}

// NewRecorder starts a Recorder on loopback, closed when the test ends.
func NewRecorder(t testing.TB) *Recorder {
	r := &Recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, Received{req.Method, req.RequestURI, req.Header.Get("Authorization"), string(body), req.Header.Clone()})
		r.mu.Unlock()
		if strings.Contains(req.URL.Path, "write") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	t.Cleanup(r.Close)
	return r
}

// Take returns what was received since the last Take.
func (r *Recorder) Take() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.got
	r.got = nil
	return g
}
