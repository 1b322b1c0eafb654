package influxdb1_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
)

// TestNotAnInfluxDB1Server: a 404 for /query (a wrong URL) must never read as "the user does not
// exist", or the operator would mint a second token.
func TestNotAnInfluxDB1Server(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := newClient(t, srv.URL, "admin", "pw").Lookup(context.Background(), "k8s.a.b.r1")
	if !engine.IsPermanent(err) {
		t.Errorf("Lookup against a 404: %v, want Permanent", err)
	}
}
