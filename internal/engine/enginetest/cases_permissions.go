package enginetest

import (
	"testing"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

var (
	read     = engine.ActionRead
	write    = engine.ActionWrite
	db       = engine.ResourceDatabase
	sys      = engine.ResourceSystem
	wildcard = []string{engine.Wildcard}
)

// shape is a permission set from docs/design.md §1 or the seed documents, with what it must and must
// not allow.
type shape struct {
	name     string
	perms    []engine.Permission
	system   bool // needs Features.SystemTokens
	wildcard bool // needs Features.Wildcard
	allow    []probe
	deny     []probe
}

var shapes = []shape{
	{name: "DatabaseRead", // seed 004 "read-only access to a database"
		perms: []engine.Permission{dbPerm([]string{dbTelemetry}, read)},
		allow: []probe{{db, dbTelemetry, read}},
		deny:  []probe{{db, dbTelemetry, write}, {db, dbLogs, read}}},
	{name: "DatabaseWrite", // docs/design.md §1 telegraf-writer
		perms: []engine.Permission{dbPerm([]string{dbTelemetry}, write)},
		allow: []probe{{db, dbTelemetry, write}},
		deny:  []probe{{db, dbTelemetry, read}, {db, dbLogs, write}}},
	{name: "DatabaseReadWriteSeveral", // docs/design.md §1 [telemetry, logs]; seed 004 DATABASE1,DATABASE2
		perms: []engine.Permission{dbPerm([]string{dbTelemetry, dbLogs}, read, write)},
		allow: []probe{{db, dbTelemetry, read}, {db, dbTelemetry, write}, {db, dbLogs, read}, {db, dbLogs, write}},
		deny:  []probe{{db, dbOther, read}, {sys, "metrics", read}}},
	{name: "DatabaseReadSeveral", // seed 004 "read-only access to multiple databases"
		perms: []engine.Permission{dbPerm([]string{dbTelemetry, dbLogs}, read)},
		allow: []probe{{db, dbTelemetry, read}, {db, dbLogs, read}},
		deny:  []probe{{db, dbTelemetry, write}, {db, dbLogs, write}}},
	{name: "TwoPermissions",
		perms: []engine.Permission{dbPerm([]string{dbTelemetry}, read), dbPerm([]string{dbLogs}, write)},
		allow: []probe{{db, dbTelemetry, read}, {db, dbLogs, write}},
		deny:  []probe{{db, dbTelemetry, write}, {db, dbLogs, read}}},
	{name: "AllDatabasesReadWrite", wildcard: true, // seed 004 "all databases"
		perms: []engine.Permission{dbPerm(wildcard, read, write)},
		allow: []probe{{db, dbTelemetry, read}, {db, dbAny, write}},
		deny:  []probe{{sys, "metrics", read}}},
	{name: "AllDatabasesRead", wildcard: true,
		perms: []engine.Permission{dbPerm(wildcard, read)},
		allow: []probe{{db, dbAny, read}},
		deny:  []probe{{db, dbAny, write}}},
	{name: "SystemMetrics", system: true, // docs/design.md §1 prometheus-scrape
		perms: []engine.Permission{sysPerm("metrics")},
		allow: []probe{{sys, "metrics", read}},
		deny:  []probe{{sys, "health", read}, {db, dbTelemetry, read}}},
	{name: "SystemHealth", system: true, // seed 004 "System health token"
		perms: []engine.Permission{sysPerm("health")},
		allow: []probe{{sys, "health", read}},
		deny:  []probe{{sys, "metrics", read}}},
	{name: "SystemPingReady", system: true,
		perms: []engine.Permission{sysPerm("ping", "ready")},
		allow: []probe{{sys, "ping", read}, {sys, "ready", read}},
		deny:  []probe{{sys, "metrics", read}}},
	{name: "SystemAll", system: true, wildcard: true, // docs/design.md §1 resources: ["*"]
		perms: []engine.Permission{sysPerm(engine.Wildcard)},
		allow: []probe{{sys, "health", read}, {sys, "metrics", read}, {sys, "ping", read}, {sys, "ready", read}},
		deny:  []probe{{db, dbTelemetry, read}}},
}

func testPermissionShapes(t *testing.T, s *suite) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			s := s.sub(t)
			req := engine.MintRequest{Name: s.name(sh.name), Permissions: sh.perms, TTL: time.Hour}
			supported := (!sh.system || s.Features.SystemTokens) && (!sh.wildcard || s.Features.Wildcard)
			if !supported {
				_, err := s.tryMint(req)
				s.wantKind("Mint of a shape the engine cannot express", err, engine.Permanent)
				return
			}
			m := s.mint(req)
			if _, err := s.lookup(req.Name); err != nil {
				t.Errorf("Lookup: %v", err)
			}
			s.wantAuthorized(m.Token, true, sh.allow...)
			s.wantAuthorized(m.Token, false, sh.deny...)
			s.revoke(req.Name)
		})
	}
}

// testInvalid: malformed requests are Permanent (never retried) and create nothing.
func testInvalid(t *testing.T, s *suite) {
	cases := map[string]engine.MintRequest{
		"SystemWrite":       {Permissions: []engine.Permission{{Type: sys, Names: []string{"metrics"}, Actions: []engine.Action{write}}}},
		"UnknownSystemName": {Permissions: []engine.Permission{sysPerm("debug")}},
		"WildcardWithNames": {Permissions: []engine.Permission{dbPerm([]string{engine.Wildcard, dbTelemetry}, read)}},
		"NoPermissions":     {},
		"NoNames":           {Permissions: []engine.Permission{dbPerm(nil, read)}},
		"NoActions":         {Permissions: []engine.Permission{dbPerm([]string{dbTelemetry})}},
		"UnknownAction":     {Permissions: []engine.Permission{dbPerm([]string{dbTelemetry}, "delete")}},
		"UnknownType":       {Permissions: []engine.Permission{{Type: "table", Names: []string{"x"}, Actions: []engine.Action{read}}}},
		"NegativeTTL":       {Permissions: readDB("").Permissions, TTL: -time.Second},
	}
	for label, req := range cases {
		req.Name = s.name("invalid-" + label)
		_, err := s.tryMint(req)
		s.wantKind("Mint "+label, err, engine.Permanent)
		_, err = s.lookup(req.Name)
		s.wantKind("Lookup after the refused Mint "+label, err, engine.NotFound)
	}
	_, err := s.tryMint(readDB(""))
	s.wantKind("Mint with an empty name", err, engine.Permanent)
}

// testUnknownDatabase: a database the engine does not know is Pending (create it first), not
// Permanent, and minting works once it exists.
func testUnknownDatabase(t *testing.T, s *suite) {
	if !s.Features.RefusesUnknownDatabases {
		t.Skip("the engine accepts tokens for any database name")
	}
	missing := "missing-" + s.prefix[len("k8s.contract."):len(s.prefix)-1]
	req := engine.MintRequest{Name: s.name("unknown-db"), Permissions: []engine.Permission{dbPerm([]string{missing}, read)}}
	_, err := s.tryMint(req)
	s.wantKind("Mint for an unknown database", err, engine.Pending)
	if got := engine.ReasonOf(err); got != tokensv1.ReasonDatabaseNotFound {
		t.Errorf("reason = %q, want %q", got, tokensv1.ReasonDatabaseNotFound)
	}
	var e *engine.Error
	if asError(err, &e) && e.RequeueAfter <= 0 {
		t.Errorf("RequeueAfter = %s, want > 0", e.RequeueAfter)
	}
	s.CreateDatabase(t, missing)
	s.mint(req)
}
