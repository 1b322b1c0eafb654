package lifecycle

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/engine"
)

// TemplateData is what secret.extraKeys templates can use.
type TemplateData struct {
	// EngineURL is the engine's address for workloads.
	EngineURL string
	// Databases are the databases the token names ("*" included), in spec order.
	Databases []string
	// Database is the first of them, or "" for a SystemToken.
	Database string
	// TokenName is the engine-side name of the token written beside the template.
	TokenName string
	// Namespace and Name are the token resource's.
	Namespace string
	Name      string
}

// templateFuncs are the few helpers extraKeys templates get: joining the database list is the
// one thing every connection string needs.
var templateFuncs = template.FuncMap{"join": strings.Join}

// Bounds on secret.extraKeys templates, which are user input the operator evaluates (issue 16).
const (
	// MaxTemplateOutputBytes is the most one extraKeys template may render.
	MaxTemplateOutputBytes = 8 << 10
	// MaxTemplatesOutputBytes is the most all extraKeys templates of a Secret may render together.
	MaxTemplatesOutputBytes = 64 << 10
	// MaxTemplateRangeDepth is how deeply range actions may nest.
	MaxTemplateRangeDepth = 2
	// TemplateDeadline is how long rendering all extraKeys templates of a Secret may take.
	TemplateDeadline = 100 * time.Millisecond
)

// allowedTemplateFuncs are the functions a template may call: join and text/template's
// comparisons and logic. printf and friends (width tricks), call, slice and the escapers are not
// offered.
var allowedTemplateFuncs = map[string]bool{
	"join": true, "and": true, "or": true, "not": true, "len": true, "index": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
}

// RenderExtraKeys renders secret.extraKeys. Missing fields are errors, so a typo surfaces as a
// TemplateError condition instead of an empty value in a workload's configuration. The error
// names the key and never holds a token: templates cannot see one. Templates are bounded: only
// allowedTemplateFuncs, range only over a field (never over a number), at most
// MaxTemplateRangeDepth nested ranges, no define/template/block, MaxTemplateOutputBytes per key,
// MaxTemplatesOutputBytes per Secret and TemplateDeadline in all; an error names the bound.
func RenderExtraKeys(templates map[string]string, data TemplateData) (map[string][]byte, error) {
	out := make(map[string][]byte, len(templates))
	deadline := time.Now().Add(TemplateDeadline)
	total := 0
	for _, key := range slices.Sorted(maps.Keys(templates)) {
		t, err := template.New(key).Funcs(templateFuncs).Option("missingkey=error").Parse(templates[key])
		if err != nil {
			return nil, fmt.Errorf("secret.extraKeys[%s]: %w", key, err)
		}
		if err := checkTemplate(t); err != nil {
			return nil, fmt.Errorf("secret.extraKeys[%s]: %w", key, err)
		}
		w := &boundedWriter{perKey: MaxTemplateOutputBytes, total: MaxTemplatesOutputBytes - total, deadline: deadline}
		if err := t.Execute(w, data); err != nil {
			if w.err != nil {
				err = w.err // the bound, not text/template's wrapping of it
			}
			return nil, fmt.Errorf("secret.extraKeys[%s]: %w", key, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("secret.extraKeys[%s]: rendering took longer than %s, the limit for all extraKeys templates", key, TemplateDeadline)
		}
		total += w.b.Len()
		out[key] = w.b.Bytes()
	}
	return out, nil
}

// boundedWriter collects a template's output up to its bounds and the deadline.
type boundedWriter struct {
	b             bytes.Buffer
	perKey, total int
	deadline      time.Time
	err           error
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	switch {
	case w.b.Len()+len(p) > w.perKey:
		w.err = fmt.Errorf("renders more than %d bytes, the limit per extraKeys template", w.perKey)
	case w.b.Len()+len(p) > w.total:
		w.err = fmt.Errorf("renders past %d bytes, the limit for all extraKeys templates of a Secret", MaxTemplatesOutputBytes)
	case time.Now().After(w.deadline):
		w.err = fmt.Errorf("rendering took longer than %s, the limit for all extraKeys templates", TemplateDeadline)
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.b.Write(p)
}

// checkTemplate refuses what could make evaluation unbounded or is not offered.
func checkTemplate(t *template.Template) error {
	for _, tt := range t.Templates() {
		if tt.Name() != t.Name() {
			return fmt.Errorf("define and block are not allowed in extraKeys templates")
		}
	}
	if t.Tree == nil {
		return nil
	}
	return checkNode(t.Tree.Root, 0)
}

func checkNode(n parse.Node, ranges int) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, ranges); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkPipe(n.Pipe)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, ranges)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, ranges)
	case *parse.RangeNode:
		if ranges+1 > MaxTemplateRangeDepth {
			return fmt.Errorf("range nests deeper than %d, the limit in extraKeys templates", MaxTemplateRangeDepth)
		}
		if p := n.Pipe; p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
			return fmt.Errorf("range only over a field such as .Databases in extraKeys templates")
		} else if !isField(p.Cmds[0].Args[0]) {
			return fmt.Errorf("range only over a field such as .Databases in extraKeys templates (not over a number or a function's result)")
		}
		return checkBranch(&n.BranchNode, ranges+1)
	case *parse.TemplateNode:
		return fmt.Errorf("template is not allowed in extraKeys templates")
	}
	return nil
}

// isField reports whether n is a field of the data, .Databases or $.Databases: never a bare
// variable, which could hold a number.
func isField(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(n.Ident) > 1 && n.Ident[0] == "$"
	}
	return false
}

func checkBranch(b *parse.BranchNode, ranges int) error {
	if err := checkPipe(b.Pipe); err != nil {
		return err
	}
	if err := checkNode(b.List, ranges); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkNode(b.ElseList, ranges)
	}
	return nil
}

func checkPipe(p *parse.PipeNode) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch a := a.(type) {
			case *parse.IdentifierNode:
				if !allowedTemplateFuncs[a.Ident] {
					return fmt.Errorf("function %s is not allowed in extraKeys templates (allowed: join, and, or, not, len, index, eq, ne, lt, le, gt, ge)", a.Ident)
				}
			case *parse.PipeNode:
				if err := checkPipe(a); err != nil {
					return err
				}
			case *parse.ChainNode:
				if pn, ok := a.Node.(*parse.PipeNode); ok {
					if err := checkPipe(pn); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// ownedBy reports whether obj has a controller ownerReference to the resource with uid.
func ownedBy(obj metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == uid
}

// viewSecret summarises the Secret (nil: none) for Decide.
func viewSecret(s *corev1.Secret, uid types.UID) SecretView {
	if s == nil {
		return SecretView{}
	}
	v := SecretView{Exists: true, Ours: ownedBy(s, uid)}
	if !v.Ours {
		return v
	}
	v.Revision, _ = strconv.ParseInt(s.Annotations[tokensv1.RevisionAnnotation], 10, 64)
	v.TokenName = s.Annotations[tokensv1.TokenNameAnnotation]
	if tok := s.Data[tokensv1.TokenSecretKey]; len(tok) > 0 {
		v.HasToken = true
		v.Fingerprint = Fingerprint(uid, tok)
	}
	return v
}

// secretContent is what step 4 writes.
type secretContent struct {
	tokenName string
	revision  int64
	minted    engine.Minted
	extra     map[string][]byte
}

// applySecret makes s hold the content: our labels and annotations over the user's, the token,
// the engine's extra credential keys and the rendered templates, and nothing else (keys left
// from an earlier revision go).
func applySecret(s *corev1.Secret, spec *tokensv1.SecretTemplate, ownerUID types.UID, c secretContent) {
	s.Labels = mergeInto(s.Labels, spec.Labels)
	s.Labels[tokensv1.ManagedByLabel] = tokensv1.ManagedByValue
	s.Labels[tokensv1.OwnerUIDLabel] = string(ownerUID)
	s.Annotations = mergeInto(s.Annotations, spec.Annotations)
	s.Annotations[tokensv1.TokenNameAnnotation] = c.tokenName
	s.Annotations[tokensv1.RevisionAnnotation] = strconv.FormatInt(c.revision, 10)
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	data := make(map[string][]byte, 1+len(c.minted.SecretData)+len(c.extra))
	maps.Copy(data, c.extra)
	for k, v := range c.minted.SecretData {
		data[k] = []byte(v.Reveal())
	}
	data[tokensv1.TokenSecretKey] = []byte(c.minted.Token.Reveal())
	s.Data = data
	s.StringData = nil
}

// stripToken removes the credential keys at expiry and keeps the Secret and its templated keys
// (workloads keep mounting it; they just hold no credential any more).
func stripToken(s *corev1.Secret, spec *tokensv1.SecretTemplate) bool {
	changed := false
	for k := range s.Data {
		if _, templated := spec.ExtraKeys[k]; !templated {
			delete(s.Data, k)
			changed = true
		}
	}
	return changed
}

func mergeInto(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = make(map[string]string, len(src)+2)
	}
	maps.Copy(dst, src)
	return dst
}
