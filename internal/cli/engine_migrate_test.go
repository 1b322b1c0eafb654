package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/kubestore"
)

func TestPlanMigration(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := &tokenengine.Record{ID: 3, Name: "a", Digest: tokenengine.DigestOf("apiv3_a"), CreatedAt: at,
		Permissions: []tokenengine.Permission{{ResourceType: "db", Names: []string{"x"}, Actions: []string{"read"}}}}
	with := func(f func(r *tokenengine.Record)) *tokenengine.Record {
		r := *base
		r.Permissions = append([]tokenengine.Permission(nil), base.Permissions...)
		f(&r)
		return &r
	}
	exp := at.Add(time.Hour)
	for name, tc := range map[string]struct {
		dst  *tokenengine.Record
		want migrateAction
	}{
		"missing":           {nil, migrateCreate},
		"identical":         {with(func(*tokenengine.Record) {}), migrateUnchanged},
		"other digest":      {with(func(r *tokenengine.Record) { r.Digest = tokenengine.DigestOf("apiv3_b") }), migrateUpdate},
		"other id":          {with(func(r *tokenengine.Record) { r.ID = 4 }), migrateUpdate},
		"other expiry":      {with(func(r *tokenengine.Record) { r.Expiry = &exp }), migrateUpdate},
		"other permissions": {with(func(r *tokenengine.Record) { r.Permissions[0].Actions = []string{"write"} }), migrateUpdate},
		"admin flag":        {with(func(r *tokenengine.Record) { r.Admin = true }), migrateUpdate},
	} {
		if got := planMigration(base, tc.dst); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
}

// TestMigrateBboltToKubernetes copies a bbolt store into EngineTokens on a real kube-apiserver:
// the dry run writes nothing, the copy keeps ids, digests and times, and a second run changes
// nothing.
func TestMigrateBboltToKubernetes(t *testing.T) {
	cfg, _ := testenv.Start(t, true)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "engine"}}); err != nil {
		t.Fatal(err)
	}
	src, err := tokenengine.OpenBoltStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	for _, name := range []string{"_admin", "k8s.team.db.1234abcd.r1", "with space"} {
		r := &tokenengine.Record{Name: name, Digest: tokenengine.DigestOf("apiv3_" + name), CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
			Admin: name == "_admin", Expiry: &exp}
		if err := src.Create(r); err != nil {
			t.Fatal(err)
		}
	}
	dst, err := kubestore.New(t.Context(), kubestore.Config{RestConfig: cfg, Namespace: "engine"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dst.Close() }()
	run := func(dry bool) string {
		var out bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetContext(t.Context())
		if err := migrate(cmd, src, dst, dry, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if out := run(true); !strings.Contains(out, "would migrate (dry run) 3 tokens: 3 created") || len(dst.List()) != 0 {
		t.Fatalf("dry run: %q, %d EngineTokens", out, len(dst.List()))
	}
	if out := run(false); !strings.Contains(out, "migrated 3 tokens: 3 created, 0 updated, 0 unchanged") {
		t.Fatalf("migration: %q", out)
	}
	for _, r := range src.List() {
		if got := dst.ByDigest(r.Digest); got == nil || planMigration(r, got) != migrateUnchanged {
			t.Errorf("token %q was not copied as it is: %+v", r.Name, got)
		}
	}
	// A fresh store over the same namespace (a replica starting after the migration) sees it all.
	again, err := kubestore.New(t.Context(), kubestore.Config{RestConfig: cfg, Namespace: "engine"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close() }()
	if n := len(again.List()); n != 3 {
		t.Fatalf("a new replica lists %d tokens, want 3", n)
	}
	if out := run(false); !strings.Contains(out, "migrated 3 tokens: 0 created, 0 updated, 3 unchanged") {
		t.Fatalf("second migration: %q", out)
	}
}
