// Package enginetest is the contract every engine adapter passes: the one place engine behaviour
// is specified. An adapter's test calls Run with a function that builds a Harness:
//
//	func TestContract(t *testing.T) { enginetest.Run(t, newHarness) }
package enginetest

import (
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
)

// Harness is what an adapter's test gives the suite for one case.
type Harness struct {
	// Engine is a working engine with valid credentials. Cases use unique token names, so one
	// engine may serve every case.
	Engine engine.Engine
	// Restarted returns a new engine client like Engine, as a restarted manager builds it:
	// nothing the first one remembers (ids of names it minted) carries over. nil: Engine keeps
	// nothing worth forgetting, and the cases use it.
	Restarted func(t *testing.T) engine.Engine
	// Unreachable returns an engine configured like Engine but pointed where nothing answers.
	Unreachable func(t *testing.T) engine.Engine
	// WrongCredentials returns an engine at Engine's address with credentials it refuses.
	WrongCredentials func(t *testing.T) engine.Engine
	// Features says what the engine supports; unsupported shapes must be Permanent errors.
	Features Features
	// Authorize reports whether token grants action a on the resource of type rt named name,
	// asking the engine itself. nil when the engine cannot be asked (the suite then checks only
	// what the engine API reports).
	Authorize func(t *testing.T, token engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool
	// Advance lets at least d pass for the engine: it steps a fake clock or sleeps. nil means
	// time.Sleep. The suite never asks for more than about 2 s.
	Advance func(d time.Duration)
	// CreateDatabase makes a database exist, for engines that refuse tokens on unknown
	// databases (Features.RefusesUnknownDatabases).
	CreateDatabase func(t *testing.T, name string)
	// Secrets are credentials (the admin token, the wrong token) that must never appear in an
	// error message.
	Secrets []string
}

// Features describes an engine's abilities.
type Features struct {
	// SystemTokens: the engine grants read access to system resources (health, metrics, ...).
	SystemTokens bool
	// Wildcard: "*" as a permission's names means every resource of that type.
	Wildcard bool
	// NativeExpiry: the engine stops accepting a token at its expiry by itself and reports it.
	NativeExpiry bool
	// ExpiryGranularity is the unit the engine rounds a lifetime up to (InfluxDB 3: 1 s).
	ExpiryGranularity time.Duration
	// RefusesUnknownDatabases: minting for a database that does not exist is a Pending
	// DatabaseNotFound error until CreateDatabase is called.
	RefusesUnknownDatabases bool
}

// Databases the suite grants access to; created through Harness.CreateDatabase when needed.
const (
	dbTelemetry = "telemetry"
	dbLogs      = "logs"
	dbOther     = "metrics-db"
	dbAny       = "any-db"
)

// Run runs the contract suite. newHarness is called once per case.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	cases := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"Check", testCheck},
		{"Lifecycle", testLifecycle},
		{"RevokeByRecordedID", testRevokeByID},
		{"DuplicateNameConflicts", testDuplicate},
		{"ConcurrentMintsOfOneName", testConcurrentMints},
		{"PermissionShapes", testPermissionShapes},
		{"InvalidRequestsArePermanent", testInvalid},
		{"UnknownDatabaseIsPending", testUnknownDatabase},
		{"Expiry", testExpiry},
		{"ListByPrefix", testList},
		{"UnreachableIsTransient", testUnreachable},
		{"WrongCredentialsAreUnauthorized", testWrongCredentials},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newSuite(t, newHarness(t)))
		})
	}
}
