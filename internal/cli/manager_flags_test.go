package cli

import (
	"testing"
)

func TestManagerFlagDefaults(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "from-env")
	fs := newManagerCommand().Flags()
	want := map[string]string{
		"leader-elect":              "true",
		"namespace":                 "from-env",
		"metrics-bind-address":      ":8080",
		"health-probe-bind-address": ":8081",
		"max-concurrent-reconciles": "16",
		"kube-api-qps":              "200",
		"kube-api-burst":            "400",
		"engine-check-interval":     "5m0s",
		"engine-retry-interval":     "30s",
		"zap-devel":                 "false",
		"watch-namespaces":          "[]",
		"kubeconfig":                "",
	}
	for name, v := range want {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("flag --%s is missing", name)
			continue
		}
		if f.DefValue != v {
			t.Errorf("--%s defaults to %q, want %q", name, f.DefValue, v)
		}
	}
}

func TestManagerOptions(t *testing.T) {
	f := &managerFlags{namespace: "ops", watchNamespaces: []string{" a", "", "b "}, leaderElect: true, metricsAddr: "0", probeAddr: ":9"}
	o := managerOptions(f)
	if !o.LeaderElection || o.LeaderElectionNamespace != "ops" || o.LeaderElectionID != leaderElectionID || !o.LeaderElectionReleaseOnCancel {
		t.Errorf("leader election options: %+v", o)
	}
	_, hasA := o.Cache.DefaultNamespaces["a"]
	_, hasB := o.Cache.DefaultNamespaces["b"]
	if len(o.Cache.DefaultNamespaces) != 2 || !hasA || !hasB {
		t.Errorf("DefaultNamespaces = %v", o.Cache.DefaultNamespaces)
	}
	if o.Cache.DefaultTransform == nil || len(o.Cache.ByObject) == 0 {
		t.Error("cache must strip managedFields and restrict Secrets to ours")
	}
	if o.Scheme == nil || !o.Scheme.IsGroupRegistered("tokens.tokenops.dev") {
		t.Error("scheme lacks our API group")
	}
	if o.Metrics.BindAddress != "0" || o.HealthProbeBindAddress != ":9" {
		t.Errorf("addresses: %q %q", o.Metrics.BindAddress, o.HealthProbeBindAddress)
	}
}
