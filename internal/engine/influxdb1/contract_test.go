package influxdb1_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb1"
	"github.com/tokenops/token-operator/internal/engine/influxdb1/influxdb1test"
)

func newClient(t *testing.T, url, user, password string) *influxdb1.Client {
	t.Helper()
	c, err := influxdb1.New(influxdb1.Config{
		Config:   httpapi.Config{URL: url, Backoff: 10 * time.Millisecond},
		Username: user, Password: engine.Plaintext(password),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContract runs the engine contract against a real influxd with authentication on. Tokens
// are users; the suite's authorization questions are answered by writing and querying with the
// minted credentials over HTTP Basic.
func TestContract(t *testing.T) {
	srv := influxdb1test.Start(t)
	t.Logf("InfluxDB %s at %s", srv.Version, srv.URL)
	const wrongPassword = "WrongPassword0123456789abcdefXYZ"
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		return enginetest.Harness{
			Engine: newClient(t, srv.URL, srv.AdminUser, srv.AdminPassword),
			Unreachable: func(t *testing.T) engine.Engine {
				return newClient(t, enginetest.ClosedURL(t, ""), srv.AdminUser, srv.AdminPassword)
			},
			WrongCredentials: func(t *testing.T) engine.Engine { return newClient(t, srv.URL, srv.AdminUser, wrongPassword) },
			// 1.x users never expire (the operator revokes them at expiry), there is no grant on
			// every database, and no system resources.
			Features: enginetest.Features{RefusesUnknownDatabases: true},
			Authorize: func(t *testing.T, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
				return authorize(t, srv, tok, rt, name, a)
			},
			CreateDatabase: func(t *testing.T, name string) { srv.CreateDatabase(t, name) },
			Secrets:        []string{srv.AdminPassword, wrongPassword},
		}
	})
}

// authorize writes to or queries the database with the token's username and password.
func authorize(t *testing.T, srv *influxdb1test.Server, tok engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
	t.Helper()
	if rt != engine.ResourceDatabase {
		return false // 1.x users have no system-endpoint permissions
	}
	user, password, ok := strings.Cut(tok.Reveal(), ":")
	if !ok {
		t.Fatal("the token is not username:password")
	}
	if a == engine.ActionWrite {
		return enginetest.AllowedStatus(t, "write to "+name, srv.Write(t, user, password, name))
	}
	return enginetest.AllowedStatus(t, "query of "+name, srv.Read(t, user, password, name))
}
