package lifecycle

import (
	"encoding/json"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The lifecycle's writes to its own resources are built here rather than diffed by
// client.MergeFrom, which marshals both objects, unmarshals both into maps and compares them,
// twice for a status write that first checks whether anything changed: that was the largest
// part of the manager's CPU per token (docs/design.md §8). Both patches carry the
// resourceVersion the pass read, so a concurrent write makes them fail with a Conflict, as
// client.MergeFromWithOptimisticLock does (docs/design.md §3).

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// statusPatch is a JSON patch that replaces the resource's status with status (its JSON) if the
// resource is still at resourceVersion rv. Whole, since the pass holds all of it: a merge patch
// would have to null every field the status no longer has, down every nested record.
func statusPatch(rv string, status []byte) ([]byte, error) {
	rvJSON, err := json.Marshal(rv)
	if err != nil {
		return nil, err
	}
	return json.Marshal([]jsonPatchOp{
		{Op: "replace", Path: "/metadata/resourceVersion", Value: rvJSON},
		{Op: "add", Path: "/status", Value: status}, // add replaces a member that exists
	})
}

// metadataPatch is a merge patch that makes the finalizers and annotations of before those of
// after, if the resource is still at before's resourceVersion; other annotations (some of which
// the cache drops: controllers/cache.go:StripUnread) stay as they are. Nothing else of the
// metadata is written: the lifecycle changes nothing else of its resources.
func metadataPatch(before, after metav1.Object) ([]byte, error) {
	md := map[string]any{"resourceVersion": before.GetResourceVersion()}
	if f := after.GetFinalizers(); !slices.Equal(before.GetFinalizers(), f) {
		if len(f) == 0 {
			md["finalizers"] = nil
		} else {
			md["finalizers"] = f
		}
	}
	was, now := before.GetAnnotations(), after.GetAnnotations()
	ann := map[string]any{}
	for k, v := range now {
		if old, ok := was[k]; !ok || old != v {
			ann[k] = v
		}
	}
	for k := range was {
		if _, ok := now[k]; !ok {
			ann[k] = nil
		}
	}
	if len(ann) > 0 {
		md["annotations"] = ann
	}
	return json.Marshal(map[string]any{"metadata": md})
}
