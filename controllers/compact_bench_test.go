package controllers_test

import (
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
)

// mintedTokenJSON is a DatabaseToken as the API server sends it after its first mint (without
// managedFields): the shape the cache holds 10,000 of in the scale budget (docs/design.md §8).
const mintedTokenJSON = `{"apiVersion":"tokens.tokenops.dev/v1alpha1","kind":"DatabaseToken","metadata":{"creationTimestamp":"2026-11-30T03:00:00Z","finalizers":["tokens.tokenops.dev/revoke"],"generation":1,"name":"t%05[1]d","namespace":"bench","resourceVersion":"12345%05[1]d","uid":"1a2b3c4d-%04[1]d-4d7e-9c3a-5b6f7e8d9a0b"},"spec":{"deletionPolicy":"Revoke","permissions":[{"actions":["read","write"],"databases":["telemetry"]}],"secret":{}},"status":{"conditions":[{"lastTransitionTime":"2026-11-30T03:00:01Z","message":"Secret \"t%05[1]d\" holds token \"k8s.bench.t%05[1]d.1a2b3c4d.r1\" (revision 1); it never expires","observedGeneration":1,"reason":"Minted","status":"True","type":"Ready"},{"lastTransitionTime":"2026-11-30T03:00:01Z","message":"ClusterTokenEngine bench answered","observedGeneration":1,"reason":"Reachable","status":"True","type":"EngineReachable"},{"lastTransitionTime":"2026-11-30T03:00:01Z","message":"The token has not reached its expiry","observedGeneration":1,"reason":"NotExpired","status":"False","type":"Expired"}],"current":{"engine":{"kind":"ClusterTokenEngine","name":"bench","uid":"4a1d8e6c-0f2b-4d7e-9c3a-5b6f7e8d9a0b"},"fingerprint":"0123456789abcdef0123456789abcdef","mintedAt":"2026-11-30T03:00:01Z","permissions":"db:telemetry:read,write","revision":1,"tokenID":"%05[1]d","tokenName":"k8s.bench.t%05[1]d.1a2b3c4d.r1"},"observedGeneration":1,"permissions":"db:telemetry:read,write","revision":1,"secretName":"t%05[1]d"}}`

// tokenSecret is one of our Secrets as the API server sends it, in protobuf as the informer gets it.
func tokenSecret(b testing.TB, i int) []byte {
	yes := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%05d", i), Namespace: "bench", UID: "5a1d8e6c-0f2b-4d7e-9c3a-5b6f7e8d9a0b", ResourceVersion: fmt.Sprint(1234500000 + i),
			Labels:          map[string]string{tokensv1.ManagedByLabel: tokensv1.ManagedByValue, tokensv1.OwnerUIDLabel: fmt.Sprintf("1a2b3c4d-%04d-4d7e-9c3a-5b6f7e8d9a0b", i)},
			Annotations:     map[string]string{tokensv1.TokenNameAnnotation: fmt.Sprintf("k8s.bench.t%05d.1a2b3c4d.r1", i), tokensv1.RevisionAnnotation: "1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: tokensv1.GroupVersion.String(), Kind: "DatabaseToken", Name: fmt.Sprintf("t%05d", i), UID: "1a2b3c4d-0000-4d7e-9c3a-5b6f7e8d9a0b", Controller: &yes, BlockOwnerDeletion: &yes}}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{tokensv1.TokenSecretKey: []byte("apiv3_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
	}
	data, err := s.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkCachedObjectBytes: the live heap per cached token and Secret, decoded as the informer
// decodes them, without and with the cache transform (StripUnread, compact.go), in the same run.
// bytes-ratio is with/without: the share of the cache's memory per object the transform keeps.
func BenchmarkCachedObjectBytes(b *testing.B) {
	const n = 5000
	decodeToken := func(i int) any {
		var d tokensv1.DatabaseToken
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(fmt.Appendf(nil, mintedTokenJSON, i), &d); err != nil {
			b.Fatal(err)
		}
		return &d
	}
	decodeSecret := func(i int) any {
		var s corev1.Secret
		if err := s.Unmarshal(tokenSecret(b, i)); err != nil {
			b.Fatal(err)
		}
		return &s
	}
	for _, kind := range []struct {
		name   string
		decode func(int) any
	}{{"DatabaseToken", decodeToken}, {"Secret", decodeSecret}} {
		b.Run(kind.name, func(b *testing.B) {
			var plain, compact float64
			for b.Loop() {
				plain = liveBytesPer(n, kind.decode)
				compact = liveBytesPer(n, func(i int) any {
					o, err := controllers.StripUnread(kind.decode(i))
					if err != nil {
						b.Fatal(err)
					}
					return o
				})
			}
			b.ReportMetric(plain, "bytes/decoded")
			b.ReportMetric(compact, "bytes/cached")
			b.ReportMetric(compact/plain, "bytes-ratio")
		})
	}
}

// liveBytesPer is the live heap each of n objects from build holds.
func liveBytesPer(n int, build func(int) any) float64 {
	keep := make([]any, n)
	before := liveHeap()
	for i := range keep {
		keep[i] = build(i)
	}
	after := liveHeap()
	runtime.KeepAlive(keep)
	return float64(after-before) / float64(n)
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
