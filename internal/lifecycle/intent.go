// The intent of a first mint, recorded with the finalizer in one write (docs/design.md §3, step 2).

package lifecycle

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// PendingFromIntent is the pending mint the intent annotation (tokensv1.PendingMintAnnotation)
// stands for, or nil when it stands for none: absent, malformed, already superseded by status
// (status.pending set, or status.revision at or past its revision), or not the resource's own
// next token. The annotation is writable by whoever may edit the resource, so nothing in it is
// taken on trust that could reach beyond the resource: the revision must be the next one and the
// name is the one TokenName gives for it; its permissions only describe that token, and a
// record that does not match the spec is replaced by a successor.
func PendingFromIntent(annotation string, st *tokensv1.TokenStatus, namespace, name string, uid types.UID) *tokensv1.PendingMint {
	if annotation == "" || st.Pending != nil {
		return nil
	}
	var p tokensv1.PendingMint
	if err := json.Unmarshal([]byte(annotation), &p); err != nil {
		return nil
	}
	if p.Revision != st.Revision+1 || p.StartedAt == nil || p.TokenName != TokenName(namespace, name, uid, p.Revision) {
		return nil
	}
	return &p
}

// intentFromAnnotation puts the pending mint the intent annotation stands for into the in-memory
// status; the base keeps the API server's status, so the pass's next status write records it.
func (s *scope[T]) intentFromAnnotation() {
	p := PendingFromIntent(s.obj.GetAnnotations()[tokensv1.PendingMintAnnotation], s.status,
		s.obj.GetNamespace(), s.obj.GetName(), s.obj.GetUID())
	if p != nil {
		s.status.Pending, s.status.Revision = p, p.Revision
		s.intentAnnotated = true
	}
}

// recordIntent is step 2 of docs/design.md §3: status.pending (in memory already) is made
// durable before the engine is called. A resource without the finalizer (its first mint) gets
// the finalizer and the intent annotation in one metadata patch; any other records it in status.
// Both writes carry the resourceVersion, so of two workers only one mints the name.
func (s *scope[T]) recordIntent(ctx context.Context) error {
	if controllerutil.ContainsFinalizer(s.obj, tokensv1.Finalizer) {
		return s.patchStatus(ctx)
	}
	data, err := json.Marshal(s.status.Pending)
	if err != nil {
		return err
	}
	return s.patchMetadata(ctx, func(o T) {
		controllerutil.AddFinalizer(o, tokensv1.Finalizer)
		setAnnotation(o, tokensv1.PendingMintAnnotation, string(data))
	}, func() { s.intentAnnotated = true })
}

// dropPending forgets a pending mint of which no token can exist, so that the same revision is
// tried again. An intent in the annotation goes too, or the next pass would find it again; should
// that write fail, the next pass abandons the intent instead, which is safe (it revokes a name
// that nothing holds).
func (s *scope[T]) dropPending(ctx context.Context) {
	s.status.Pending = nil
	s.status.Revision--
	if !s.intentAnnotated {
		return
	}
	_ = s.patchMetadata(ctx, func(o T) {
		ann := o.GetAnnotations()
		delete(ann, tokensv1.PendingMintAnnotation)
		o.SetAnnotations(ann)
	}, func() { s.intentAnnotated = false })
}

// patchMetadata applies change to the resource's metadata as the API server has it (the base),
// as a merge patch with the resourceVersion precondition, and takes the new metadata into the
// scope; the in-memory status, written later by patchStatus, is left as it is. done runs after a
// successful write.
func (s *scope[T]) patchMetadata(ctx context.Context, change func(T), done func()) error {
	o := s.base.DeepCopyObject().(T)
	change(o)
	patch, err := metadataPatch(s.base, o)
	if err != nil {
		return err
	}
	if err := s.r.Client.Patch(ctx, o, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return err
	}
	s.obj.SetResourceVersion(o.GetResourceVersion())
	s.obj.SetFinalizers(o.GetFinalizers())
	s.obj.SetAnnotations(o.GetAnnotations())
	s.base = o
	done()
	return nil
}

// setAnnotation sets one annotation on o.
func setAnnotation(o client.Object, key, value string) {
	ann := o.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[key] = value
	o.SetAnnotations(ann)
}
