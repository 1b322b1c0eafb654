package localcluster

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// crdEstablishTimeout bounds the wait for kube-apiserver to serve a new CRD.
const crdEstablishTimeout = 30 * time.Second

// InstallCRDs creates the CRDs, or brings them up to date on a restart with newer ones, and waits
// until each is Established, so that the manager's informers start on served resources.
func (c *Cluster) InstallCRDs(ctx context.Context, crds []*apiextensionsv1.CustomResourceDefinition) error {
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return err
	}
	cl, err := client.New(c.Config, client.Options{Scheme: s})
	if err != nil {
		return err
	}
	for _, want := range crds {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: want.ObjectMeta}
		crd.ResourceVersion = ""
		if _, err := controllerutil.CreateOrUpdate(ctx, cl, crd, func() error {
			crd.Spec = want.Spec
			return nil
		}); err != nil {
			return fmt.Errorf("installing CRD %s: %w", want.Name, err)
		}
	}
	for _, want := range crds {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, crdEstablishTimeout, true, func(ctx context.Context) (bool, error) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := cl.Get(ctx, client.ObjectKey{Name: want.Name}, crd); err != nil {
				return false, nil //nolint:nilerr // not served yet: poll again
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s was not established within %s: %w", want.Name, crdEstablishTimeout, err)
		}
	}
	return nil
}
