package influxdb1_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/influxdb1"
	"github.com/tokenops/token-operator/internal/engine/influxdb1/influxdb1test"
)

// TestMintedUserOnRealServer follows one token through a real influxd: the minted credentials
// write with HTTP Basic to the granted database, are refused on another, and fail
// authentication (401) once revoked, also after the name is minted again.
func TestMintedUserOnRealServer(t *testing.T) {
	srv := influxdb1test.Start(t)
	srv.CreateDatabase(t, "granted")
	srv.CreateDatabase(t, "other")
	c := newClient(t, srv.URL, srv.AdminUser, srv.AdminPassword)
	ctx := context.Background()
	name := `k8s.team-a.writer"quoted"\it's.r1`
	req := engine.MintRequest{Name: name, Permissions: []engine.Permission{
		{Type: engine.ResourceDatabase, Names: []string{"granted"}, Actions: []engine.Action{engine.ActionWrite}},
	}}
	m, err := c.Mint(ctx, req)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	user, password := m.SecretData[influxdb1.SecretKeyUsername].Reveal(), m.SecretData[influxdb1.SecretKeyPassword].Reveal()
	if user != name || m.ID != name || m.Token.Reveal() != user+":"+password {
		t.Fatalf("Minted: username %q, ID %q; token is not username:password", user, m.ID)
	}
	if len(password) < 80 || strings.ContainsAny(password, ": +/=") {
		t.Errorf("password of %d characters is not 64 bytes of base64url", len(password))
	}
	for _, tc := range []struct {
		what string
		got  int
		want int
	}{
		{"write to the granted database", srv.Write(t, user, password, "granted"), http.StatusNoContent},
		{"write to another database", srv.Write(t, user, password, "other"), http.StatusForbidden},
		{"read of the write-only database", srv.Read(t, user, password, "granted"), http.StatusForbidden},
		// bcrypt reads only the first 72 bytes of the 86-character password, so change the start.
		{"write with a wrong password", srv.Write(t, user, flipFirst(password), "granted"), http.StatusUnauthorized},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.what, tc.got, tc.want)
		}
	}

	if err := c.Revoke(ctx, name, ""); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if got := srv.Write(t, user, password, "granted"); got != http.StatusUnauthorized {
		t.Errorf("write after Revoke: HTTP %d, want 401", got)
	}
	// The crash-recovery path mints the same name again: the old password must stay dead.
	if _, err := c.Mint(ctx, req); err != nil {
		t.Fatalf("Mint again: %v", err)
	}
	if got := srv.Write(t, user, password, "granted"); got != http.StatusUnauthorized {
		t.Errorf("write with the first password after the name was minted again: HTTP %d, want 401", got)
	}
	if err := c.Revoke(ctx, name, ""); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
}

// TestRefusals: shapes 1.x cannot express, and the admin user, are Permanent errors that say why.
func TestRefusals(t *testing.T) {
	srv := influxdb1test.Start(t)
	c := newClient(t, srv.URL, srv.AdminUser, srv.AdminPassword)
	ctx := context.Background()
	db := func(names ...string) []engine.Permission {
		return []engine.Permission{{Type: engine.ResourceDatabase, Names: names, Actions: []engine.Action{engine.ActionRead}}}
	}
	for _, tc := range []struct {
		req  engine.MintRequest
		want string
	}{
		{engine.MintRequest{Name: "k8s.a.all.r1", Permissions: db(engine.Wildcard)}, "list the databases by name"},
		{engine.MintRequest{Name: "k8s.a.sys.r1", Permissions: []engine.Permission{{Type: engine.ResourceSystem, Names: []string{"health"}, Actions: []engine.Action{engine.ActionRead}}}}, "InfluxDB 3 Enterprise"},
		{engine.MintRequest{Name: "k8s.a:colon.r1", Permissions: db("x")}, "must not contain ':'"},
	} {
		_, err := c.Mint(ctx, tc.req)
		if !engine.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Mint(%q): got %v, want a Permanent error mentioning %q", tc.req.Name, err, tc.want)
		}
	}
	if err := c.Revoke(ctx, srv.AdminUser, ""); !engine.IsPermanent(err) {
		t.Errorf("Revoke of the admin user: got %v, want Permanent", err)
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check after the refused Revoke: %v", err)
	}
}

func flipFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
