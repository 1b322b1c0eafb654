package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/testutil"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestManagerKilledMidChurnLeaksNothing runs `token-operator engine` and `token-operator
// manager` as processes against the real API server, creates a burst of tokens, kills the
// manager with SIGKILL while it is minting, starts a new one, and then compares the engine's
// token list with the resources' status: exactly one live engine token per resource, the one the
// Secret holds, and none leaked. A rotating token's Secret is swapped before its first token expires.
func TestManagerKilledMidChurnLeaksNothing(t *testing.T) {
	bin := testenv.OperatorBinary(t)
	cfg, kubeconfig := testenv.Start(t, true)
	dir := t.TempDir()
	k8s := testenv.Client(t, cfg)
	ctx := context.Background()

	// The token engine, as a process.
	admin := tokenenginetest.NewTokenString(t)
	adminFile := filepath.Join(dir, "admin.json")
	if err := os.WriteFile(adminFile, []byte(fmt.Sprintf(`{"token":%q}`, admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	engineURL := "http://" + testenv.FreeAddr(t)
	engineCmd := exec.Command(bin, "engine", "--listen", strings.TrimPrefix(engineURL, "http://"), "--data-dir", filepath.Join(dir, "engine"), "--admin-token-file", adminFile)
	if err := engineCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engineCmd.Process.Kill(); _ = engineCmd.Wait() })
	waitLive(t, engineURL, nil)

	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "token-operator"}}))
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "churn"}}))
	must(t, k8s.Create(ctx, testutil.AdminSecret("token-operator", admin)))
	must(t, k8s.Create(ctx, testutil.DefaultEngine(engineURL, "token-operator", "churn")))

	var logs testenv.Buffer
	startManager := func() *exec.Cmd {
		cmd := exec.Command(bin, "manager", "--kubeconfig", kubeconfig, "--namespace", "token-operator", "--leader-elect=false",
			"--metrics-bind-address", "0", "--health-probe-bind-address", testenv.FreeAddr(t))
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	first := startManager()

	const n = 40
	for i := range n {
		tok := &tokensv1.DatabaseToken{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("churn-%02d", i), Namespace: "churn"},
			Spec: tokensv1.DatabaseTokenSpec{Permissions: []tokensv1.DatabasePermission{
				{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionWrite}}}},
		}
		if i == 0 { // the rotating one
			exp, before := tokensv1.Duration("12s"), tokensv1.Duration("8s")
			tok.Spec.ExpiresAfter = &exp
			tok.Spec.Rotation = &tokensv1.Rotation{RenewBefore: &before}
		}
		must(t, k8s.Create(ctx, tok))
	}
	// Kill while minting: once some, not all, tokens hold a Secret.
	waitFor(t, 60*time.Second, "a few tokens minted", func() bool { n := countSecrets(t, k8s); return n >= 3 })
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	minted := countSecrets(t, k8s)
	t.Logf("killed the manager with %d of %d Secrets written", minted, n)
	startManager()

	// Every resource Ready, no pending mint, no predecessor left.
	var list tokensv1.DatabaseTokenList
	waitFor(t, 120*time.Second, "every token Ready", func() bool {
		must(t, k8s.List(ctx, &list, client.InNamespace("churn")))
		for _, d := range list.Items {
			st := d.Status
			if st.Current == nil || st.Pending != nil || !isReady(st.Conditions) || (d.Name != "churn-00" && len(st.Previous) > 0) {
				return false
			}
		}
		return len(list.Items) == n
	})

	eng, err := influxdb3.New(httpapi.Config{URL: engineURL}, engine.Plaintext(admin))
	if err != nil {
		t.Fatal(err)
	}
	// The rotating token's Secret holds a successor before the first token expires.
	var rot tokensv1.DatabaseToken
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: "churn", Name: "churn-00"}, &rot))
	firstExpiry := rot.Status.Current.ExpiresAt.Time
	if rot.Status.Current.Revision == 1 {
		waitFor(t, time.Until(firstExpiry), "the rotating token's successor before expiry", func() bool {
			must(t, k8s.Get(ctx, client.ObjectKey{Namespace: "churn", Name: "churn-00"}, &rot))
			return rot.Status.Current.Revision > 1
		})
	}
	// It keeps rotating (every ~4 s, each predecessor live until its expiry): deleting it revokes
	// them all, and leaves a steady set to compare.
	must(t, k8s.Delete(ctx, &rot))
	waitFor(t, 30*time.Second, "the rotating token deleted", func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(&rot), &tokensv1.DatabaseToken{}))
	})
	waitFor(t, 30*time.Second, "predecessors revoked", func() bool {
		must(t, k8s.List(ctx, &list, client.InNamespace("churn")))
		for _, d := range list.Items {
			if len(d.Status.Previous) > 0 {
				return false
			}
		}
		return true
	})

	live, err := eng.List(ctx, "k8s.churn.")
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, ti := range live {
		if ti.ExpiresAt == nil || ti.ExpiresAt.After(time.Now()) {
			got = append(got, ti.Name)
		}
	}
	for _, d := range list.Items {
		want = append(want, d.Status.Current.TokenName)
		var sec corev1.Secret
		must(t, k8s.Get(ctx, client.ObjectKey{Namespace: "churn", Name: d.Name}, &sec))
		if a := tokenenginetest.AuthorizeStatus(tlsClient(nil), engineURL, string(sec.Data["token"]), "telemetry", "write"); a != 204 {
			t.Errorf("%s: the Secret's token gets %d from the engine, want 204", d.Name, a)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("engine tokens and status disagree after kill -9:\nengine: %v\nstatus: %v", got, want)
	}
	if strings.Contains(logs.String(), admin) {
		t.Error("the admin token appears in the manager's logs")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countSecrets(t *testing.T, k8s client.Client) int {
	t.Helper()
	var secs corev1.SecretList
	must(t, k8s.List(context.Background(), &secs, client.InNamespace("churn"), client.MatchingLabels{tokensv1.ManagedByLabel: tokensv1.ManagedByValue}))
	return len(secs.Items)
}

func isReady(conds []metav1.Condition) bool {
	for _, c := range conds {
		if c.Type == tokensv1.ConditionReady {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}
