//go:build linux

package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// leaseName is the manager's leader lease (internal/cli: leaderElectionID).
const leaseName = "token-operator.tokens.tokenops.dev"

// acquiredLease is what client-go's leader election logs once a process holds the lease.
const acquiredLease = "successfully acquired lease"

// TestLeaderHandover runs two managers with leader election, SIGKILLs the leader while it
// mints, deletes and re-mints, and measures the handover: from the kill to the standby holding
// the lease, and to the first reconcile by the standby (a token created right after the kill
// gets its pending mint recorded). Afterwards the kill storm's invariants hold.
func TestLeaderHandover(t *testing.T) {
	s := runSize(t)
	rnd, seed := seeded(t)
	c := newCluster(t)
	f := newFleet(c, rnd)
	ctx := context.Background()

	leader := c.startManager(true)
	waitLog(t, c.logPath(1), acquiredLease, 60*time.Second)
	oldHolder := leaseHolder(t, c)
	standby := c.startManager(true)
	waitLog(t, c.logPath(2), "attempting to acquire leader lease", 60*time.Second)

	f.create(s.handoverTokens)
	// Churn before and after the kill.
	var churn sync.WaitGroup
	churn.Go(func() {
		for i := range s.handoverDeletions + s.handoverPermissionChange {
			time.Sleep(time.Duration(rnd.Int64N(int64(2 * time.Second))))
			if i < s.handoverDeletions {
				f.deleteOne()
			} else {
				f.changeOne()
			}
		}
	})
	// Kill the leader mid-mint: once some, not all, Secrets are written.
	want := s.handoverTokens / 3
	deadline := time.Now().Add(60 * time.Second)
	for f.countSecrets() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	written := f.countSecrets()
	leader.Kill()
	killed := time.Now()
	t.Logf("SIGKILLed the leader with %d of %d Secrets written", written, s.handoverTokens)

	// A token created right after the kill: its first status write is the new leader's first
	// reconcile. Reserved before it exists, so that the churn can never delete it.
	probe := types.NamespacedName{Namespace: namespaces[s.handoverTokens%len(namespaces)], Name: fmt.Sprintf("tok-%03d", s.handoverTokens)}
	f.keep(probe)
	if got := f.createOne(s.handoverTokens); got != probe {
		t.Fatalf("probe %s, created %s", probe, got)
	}
	var leaseAt, firstReconcileAt time.Time
	for time.Since(killed) < 90*time.Second && (leaseAt.IsZero() || firstReconcileAt.IsZero()) {
		if leaseAt.IsZero() {
			if h := leaseHolder(t, c); h != "" && h != oldHolder {
				leaseAt = time.Now()
			}
		}
		if firstReconcileAt.IsZero() {
			var tok tokensv1.DatabaseToken
			if err := c.k8s.Get(ctx, probe, &tok); err == nil && (tok.Status.Pending != nil || tok.Status.Current != nil) {
				firstReconcileAt = time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if leaseAt.IsZero() || firstReconcileAt.IsZero() {
		t.Fatalf("the standby did not take over within 90s (lease: %v, first reconcile: %v)", !leaseAt.IsZero(), !firstReconcileAt.IsZero())
	}
	if standby.Exited() {
		t.Fatal("the standby exited")
	}
	t.Logf("handover: SIGKILL → lease held by the standby %v, → its first reconcile %v (lease duration 15s, retry period 2s)",
		leaseAt.Sub(killed).Round(10*time.Millisecond), firstReconcileAt.Sub(killed).Round(10*time.Millisecond))

	churn.Wait()
	f.waitSettled(s.settle)
	g := f.check()
	t.Logf("seed %d, size %s: %d tokens, leader SIGKILLed once", seed, s.name, s.handoverTokens)
	f.report(g)
}

// logPath is manager n's log file.
func (c *cluster) logPath(n int) string {
	return filepath.Join(c.logDir, fmt.Sprintf("manager-%d.log", n))
}

// waitLog waits until the file holds substr, in any case.
func waitLog(t *testing.T, path, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(strings.ToLower(string(b)), strings.ToLower(substr)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no %q within %v", path, substr, d)
}

// leaseHolder is the leader lease's holder, or "".
func leaseHolder(t *testing.T, c *cluster) string {
	var l coordinationv1.Lease
	if err := c.k8s.Get(context.Background(), types.NamespacedName{Namespace: operatorNamespace, Name: leaseName}, &l); err != nil {
		return ""
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}
