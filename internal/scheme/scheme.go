// Package scheme builds the runtime scheme of the operator: the Kubernetes types and ours.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// New returns a scheme with the Kubernetes types and ours: what the manager and every
// client of the operator's objects need. The registrations are static, so they cannot fail.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(tokensv1.AddToScheme(s))
	return s
}
