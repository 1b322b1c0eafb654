package controllers_test

import (
	"context"
	"strings"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tokenops/token-operator/controllers"
)

// Setup refuses the wiring that would only fail later, quietly.
func TestSetupRefusesMissingDependencies(t *testing.T) {
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		mgr     ctrl.Manager
		engines *controllers.EngineDeps
		tokens  *controllers.TokenDeps
		want    string
	}{
		{"no manager", nil, &controllers.EngineDeps{ManagerNamespace: "x"}, nil, "no manager"},
		{"nothing asked for", mgr, nil, nil, "neither"},
		{"engines without a manager namespace", mgr, &controllers.EngineDeps{}, nil, "ManagerNamespace"},
		{"tokens with no way to resolve an engine", mgr, nil, &controllers.TokenDeps{}, "Resolver"},
	} {
		if _, err := controllers.Setup(ctx, tc.mgr, tc.engines, tc.tokens); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Setup error = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}
