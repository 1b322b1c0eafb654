package controllers_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine/fake"
	"github.com/tokenops/token-operator/internal/lifecycle"
)

// burst is how many tokens one benchmark iteration creates at once.
const burst = 200

// BenchmarkMintBurst measures how fast the manager turns a burst of DatabaseTokens into Ready
// tokens with Secrets (fake engine, real API server), against a baseline measured in the same
// run: a client making the same API writes per token (create, finalizer, pending, Secret,
// current) with as many workers and nothing else. ratio-vs-writes near 1 means the operator is
// limited by the API server, not by its own work (docs/design.md §8).
func BenchmarkMintBurst(b *testing.B) {
	var op, base time.Duration
	for i := 0; b.Loop(); i++ {
		op += operatorBurst(b, i)
		base += baselineBurst(b, i)
	}
	n := float64(b.N * burst)
	b.ReportMetric(n/op.Seconds(), "tokens/s")
	b.ReportMetric(n/base.Seconds(), "baseline-tokens/s")
	b.ReportMetric(base.Seconds()/op.Seconds(), "ratio-vs-writes")
}

func operatorBurst(b *testing.B, iter int) time.Duration {
	ns := newNamespace(b)
	fe := fake.New()
	m := startManagerWith(b, ns, controllers.TokenDeps{Resolver: fakeResolver(fe, true)})
	defer m.stop()
	ctx := context.Background()
	start := time.Now()
	for i := range burst {
		if err := k8s.Create(ctx, databaseTokenKind.new("b"+strconv.Itoa(i), ns)); err != nil {
			b.Fatal(err)
		}
	}
	for {
		var list tokensv1.DatabaseTokenList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for _, d := range list.Items {
			if d.Status.Current != nil && d.Status.Pending == nil {
				ready++
			}
		}
		if ready == burst {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("iteration %d: only %d of %d tokens minted in 5 minutes", iter, ready, burst)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// baselineBurst makes the writes a mint costs, with controllers.DefaultMaxConcurrentReconciles
// workers, and no engine, cache or decisions.
func baselineBurst(b *testing.B, iter int) time.Duration {
	ns := newNamespace(b)
	ctx := context.Background()
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	start := time.Now()
	for range controllers.DefaultMaxConcurrentReconciles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := baselineMint(ctx, ns, "b"+strconv.Itoa(i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range burst {
		work <- i
	}
	close(work)
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatalf("baseline iteration %d: %v", iter, err)
	}
	return d
}

func baselineMint(ctx context.Context, ns, name string) error {
	obj := databaseTokenKind.new(name, ns).(*tokensv1.DatabaseToken)
	if err := k8s.Create(ctx, obj); err != nil {
		return err
	}
	patch := client.MergeFrom(obj.DeepCopy())
	obj.Finalizers = []string{tokensv1.Finalizer}
	if err := k8s.Patch(ctx, obj, patch); err != nil {
		return err
	}
	patch = client.MergeFrom(obj.DeepCopy())
	tokenName := lifecycle.TokenName(ns, name, obj.UID, 1)
	obj.Status.Pending = &tokensv1.PendingMint{Revision: 1, TokenName: tokenName}
	if err := k8s.Status().Patch(ctx, obj, patch); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{"token": []byte(fmt.Sprint(name))}}
	if err := k8s.Create(ctx, sec); err != nil {
		return err
	}
	patch = client.MergeFrom(obj.DeepCopy())
	obj.Status.Pending = nil
	obj.Status.Current = &tokensv1.TokenRecord{TokenName: tokenName, Revision: 1}
	return k8s.Status().Patch(ctx, obj, patch)
}
