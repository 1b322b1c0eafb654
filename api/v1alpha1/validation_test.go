package v1alpha1_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// object builds an object of kind with the given spec (YAML). Namespaced kinds go to testNamespace.
func object(kind, spec string) *unstructured.Unstructured {
	doc := fmt.Sprintf("apiVersion: tokens.tokenops.dev/v1alpha1\nkind: %s\nmetadata: {name: subject}\nspec:\n%s", kind, indent(spec))
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed(), doc)
	if kind != "ClusterTokenEngine" {
		u.SetNamespace(testNamespace)
	}
	return u
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// create submits obj as a dry run: admission runs in full, nothing is stored.
func create(obj *unstructured.Unstructured) error {
	return k8s.Create(ctx, obj, client.DryRunAll)
}

const validEngine = `influxdb3:
  url: http://token-engine.token-operator.svc:8181
  adminTokenSecretRef: {namespace: token-operator, name: token-engine-admin, key: token}`

var _ = Describe("Admission rejects bad specs with a message naming the field and the fix", func() {
	DescribeTable("rejected",
		func(kind, spec string, wants ...string) {
			err := create(object(kind, spec))
			Expect(err).To(HaveOccurred(), "the API server accepted a bad %s:\n%s", kind, spec)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got: %v", err)
			for _, want := range wants {
				Expect(err.Error()).To(ContainSubstring(want))
			}
		},
		// DatabaseToken permissions.
		Entry("no permissions field", "DatabaseToken", `expiresAfter: 1h`,
			"spec.permissions: Required value"),
		Entry("empty permissions", "DatabaseToken", `permissions: []`,
			"spec.permissions", "list at least one permission, e.g. {databases: [telemetry], actions: [write]}"),
		Entry("empty databases", "DatabaseToken", `permissions: [{databases: [], actions: [read]}]`,
			"spec.permissions[0].databases", `list at least one database, or ["*"] for every database`),
		Entry("empty actions", "DatabaseToken", `permissions: [{databases: [a], actions: []}]`,
			"spec.permissions[0].actions", "list at least one action: read, write, or both"),
		Entry("unknown action", "DatabaseToken", `permissions: [{databases: [a], actions: [delete]}]`,
			"spec.permissions[0].actions[0]", `supported values: "read", "write"`),
		Entry("wildcard mixed with names", "DatabaseToken", `permissions: [{databases: ["*", logs], actions: [read]}]`,
			"spec.permissions[0].databases", `use ["*"] alone or list the databases`),
		Entry("duplicate database", "DatabaseToken", `permissions: [{databases: [logs, logs], actions: [read]}]`,
			"spec.permissions[0].databases", "each database may appear only once"),
		Entry("duplicate action", "DatabaseToken", `permissions: [{databases: [logs], actions: [read, read]}]`,
			"spec.permissions[0].actions", "each action may appear only once"),
		Entry("database name with a space", "DatabaseToken", `permissions: [{databases: ["my database"], actions: [read]}]`,
			"spec.permissions[0].databases[0]", "must be a database name InfluxDB accepts"),
		Entry("database name starting with underscore", "DatabaseToken", `permissions: [{databases: [_internal], actions: [read]}]`,
			"spec.permissions[0].databases[0]", "start with a letter or digit"),
		Entry("database name with a period", "DatabaseToken", `permissions: [{databases: [sensor.data], actions: [read]}]`,
			"spec.permissions[0].databases[0]", "must be a database name InfluxDB accepts"),
		Entry("database name with two slashes", "DatabaseToken", `permissions: [{databases: [mydb/rp/extra], actions: [read]}]`,
			"spec.permissions[0].databases[0]", "at most one '/'"),
		Entry("database name longer than 64", "DatabaseToken", `permissions: [{databases: [`+strings.Repeat("a", 65)+`], actions: [read]}]`,
			"spec.permissions[0].databases[0]", "Too long: may not be more than 64"),
		// Expiry.
		Entry("expiresAfter with an unknown unit", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 7x",
			"spec.expiresAfter", "must be a duration such as 30m, 12h, 7d or 1y"),
		Entry("negative expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: -1h",
			"spec.expiresAfter", "negative values and other units are not accepted"),
		Entry("zero expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 0s",
			"spec.expiresAfter", "must be longer than zero; omit the field instead of setting 0"),
		Entry("empty expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: \"\"",
			"spec.expiresAfter", "must be a duration such as 30m"),
		Entry("fractional expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 1.5h",
			"spec.expiresAfter", "whole numbers with a unit"),
		Entry("expiresAfter beyond ten years", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 11y",
			"spec.expiresAfter", "must be at most 10y; omit expiresAfter for a token that never expires"),
		Entry("absurdly long expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 1h1h1h1h1h1h1h1h1h1h1h1h1h",
			"spec.expiresAfter", "Too long"),
		// Rotation.
		Entry("renewBefore without expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nrotation: {renewBefore: 1h}",
			"spec", "rotation.renewBefore needs spec.expiresAfter"),
		Entry("renewBefore equal to expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 720h\nrotation: {renewBefore: 30d}",
			"spec", "rotation.renewBefore must be shorter than expiresAfter"),
		Entry("renewBefore longer than expiresAfter", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 1d\nrotation: {renewBefore: 2d}",
			"spec", "rotation.renewBefore must be shorter than expiresAfter"),
		Entry("zero overlap", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nrotation: {overlap: 0m}",
			"spec.rotation.overlap", "must be longer than zero"),
		// Secret.
		Entry("secret name not DNS-1123", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nsecret: {name: Bad_Name}",
			"spec.secret.name", "must be a valid Secret name"),
		Entry("extraKeys using the reserved key token", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nsecret: {extraKeys: {token: x}}",
			"spec.secret.extraKeys", `"token" is reserved for the token itself; choose another key name`),
		Entry("extraKeys template longer than 4096 characters", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nsecret: {extraKeys: {K: "+strings.Repeat("x", 4097)+"}}",
			"spec.secret.extraKeys", "at most 4096 characters"),
		Entry("extraKeys with an invalid Secret key", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nsecret: {extraKeys: {\"INFLUX HOST\": x}}",
			"spec.secret.extraKeys", "keys must be valid Secret keys"),
		Entry("rollout target of an unsupported kind", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nsecret: {rolloutRestartTargets: [{kind: CronJob, name: x}]}",
			"spec.secret.rolloutRestartTargets[0].kind", `supported values: "Deployment", "StatefulSet", "DaemonSet"`),
		Entry("unknown deletionPolicy", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\ndeletionPolicy: Delete",
			"spec.deletionPolicy", `supported values: "Revoke", "Retain"`),
		Entry("unknown engineRef kind", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nengineRef: {kind: Issuer, name: x}",
			"spec.engineRef.kind", `supported values: "ClusterTokenEngine", "TokenEngine"`),
		Entry("engineRef without a name", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nengineRef: {kind: TokenEngine}",
			"spec.engineRef.name: Required value"),
		// SystemToken.
		Entry("system resource outside health|metrics|ping|ready|*", "SystemToken", `resources: [cpu]`,
			"spec.resources[0]", `supported values: "health", "metrics", "ping", "ready", "*"`),
		Entry("no system resources", "SystemToken", `resources: []`,
			"spec.resources", "list at least one system resource"),
		Entry("write action on a SystemToken", "SystemToken", "resources: [metrics]\nactions: [write]",
			"spec.actions", "system tokens are read-only"),
		Entry("system wildcard mixed with names", "SystemToken", `resources: ["*", health]`,
			"spec.resources", `use ["*"] alone or list the resources`),
		Entry("SystemToken renewBefore without expiresAfter", "SystemToken", "resources: [metrics]\nrotation: {renewBefore: 1h}",
			"rotation.renewBefore needs spec.expiresAfter"),
		// Engines.
		Entry("engine with no kind", "ClusterTokenEngine", `allowedNamespaces: {matchNames: ["*"]}`,
			"set exactly one engine: influxdb3, influxdb2, cloudDedicated or influxdb1"),
		Entry("engine with two kinds", "ClusterTokenEngine", validEngine+"\ninfluxdb1: {url: http://x:8086, credentialsSecretRef: {name: c}}",
			"set exactly one engine"),
		Entry("engine URL not http(s)", "ClusterTokenEngine", "influxdb3: {url: ftp://engine:8181, adminTokenSecretRef: {name: a}}",
			"spec.influxdb3.url", "must be an http:// or https:// URL with a host"),
		Entry("engine URL without a host", "ClusterTokenEngine", "influxdb3: {url: \"http://\", adminTokenSecretRef: {name: a}}",
			"spec.influxdb3.url", "must be an http:// or https:// URL"),
		Entry("engine without credentials reference", "ClusterTokenEngine", "influxdb3: {url: http://engine:8181}",
			"spec.influxdb3.adminTokenSecretRef: Required value"),
		Entry("allowedNamespaces with a list and a selector", "ClusterTokenEngine", validEngine+"\nallowedNamespaces: {matchNames: [a], selector: {matchLabels: {team: a}}}",
			"spec.allowedNamespaces", "set either matchNames or selector, not both"),
		Entry("empty allowedNamespaces is not every namespace", "ClusterTokenEngine", validEngine+"\nallowedNamespaces: {}",
			"spec.allowedNamespaces", "set matchNames or selector"),
		Entry("allowedNamespaces with an empty selector", "ClusterTokenEngine", validEngine+"\nallowedNamespaces: {selector: {}}",
			"spec.allowedNamespaces", "an empty selector would match every namespace"),
		Entry("allowedNamespaces with an empty list", "ClusterTokenEngine", validEngine+"\nallowedNamespaces: {matchNames: []}",
			"spec.allowedNamespaces.matchNames"),
		Entry("TokenEngine reading another namespace's Secret", "TokenEngine", validEngine,
			"a TokenEngine reads its credentials Secret from its own namespace"),
		Entry("influxdb2 engine without org", "ClusterTokenEngine", "influxdb2: {url: http://influx:8086, tokenSecretRef: {name: t}}",
			"spec.influxdb2.org: Required value"),
		Entry("cloudDedicated engine with a malformed account ID", "ClusterTokenEngine",
			"cloudDedicated: {accountID: acme, clusterID: 11111111-2222-3333-4444-555555555555, managementTokenSecretRef: {name: m}}",
			"spec.cloudDedicated.accountID", "must be the account's UUID"),
		// Engine policy.
		Entry("policy without rules", "ClusterTokenEngine", validEngine+"\npolicy: {rules: []}",
			"spec.policy.rules", "should have at least 1 items"),
		Entry("policy rule without a name", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{databases: [a]}]}",
			"spec.policy.rules[0].name: Required value"),
		Entry("policy rule name not a short name", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: Team_A, databases: [a]}]}",
			"spec.policy.rules[0].name", "must be a short name of lowercase letters, digits and '-'"),
		Entry("policy rule names repeated", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, databases: [a]}, {name: a, databases: [b]}]}",
			"spec.policy", "each rule name may appear only once"),
		Entry("policy rule permitting nothing", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, maxExpiresAfter: 7d}]}",
			"spec.policy.rules[0]", "a rule must permit something: set databases and/or systemResources"),
		Entry("policy rule with empty namespaces", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, namespaces: {}, databases: [a]}]}",
			"spec.policy.rules[0]", "namespaces needs matchNames or selector"),
		Entry("policy rule namespaces with names and a selector", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, namespaces: {matchNames: [a], selector: {}}, databases: [a]}]}",
			"spec.policy.rules[0].namespaces", "set either matchNames or selector, not both"),
		Entry("policy database pattern with a space", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, databases: [\"team a\"]}]}",
			"spec.policy.rules[0].databases", "database patterns may hold letters, digits"),
		Entry("policy with an unknown system resource", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, systemResources: [cpu]}]}",
			"spec.policy.rules[0].systemResources[0]", `supported values: "health", "metrics", "ping", "ready", "*"`),
		Entry("policy maxExpiresAfter not a duration", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, databases: [a], maxExpiresAfter: 1month}]}",
			"spec.policy.rules[0].maxExpiresAfter", "must be a duration such as 30m"),
		Entry("policy rule with an unknown action", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, databases: [a], actions: [delete]}]}",
			"spec.policy.rules[0].actions[0]", `supported values: "read", "write"`),
		Entry("policy rule with allowAllDatabases false only", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, allowAllDatabases: false}]}",
			"a rule must permit something"),
		Entry("policy with 33 rules", "ClusterTokenEngine", validEngine+"\npolicy: {rules: ["+manyRules(33)+"]}",
			"spec.policy.rules", "must have at most 32 items"),
		Entry("TokenEngine policy rule naming namespaces", "TokenEngine", "influxdb3: {url: http://engine:8181, adminTokenSecretRef: {name: admin}}\npolicy: {rules: [{name: a, namespaces: {matchNames: [x]}, databases: [a]}]}",
			"a TokenEngine serves only its own namespace: remove namespaces from its policy rules"),
	)
})

// manyRules renders n distinct policy rules.
func manyRules(n int) string {
	rules := make([]string, n)
	for i := range rules {
		rules[i] = fmt.Sprintf("{name: r%d, databases: [d%d]}", i, i)
	}
	return strings.Join(rules, ", ")
}

var _ = Describe("Admission accepts every permission shape in the seed documents", func() {
	DescribeTable("accepted",
		func(kind, spec string) {
			Expect(create(object(kind, spec))).To(Succeed(), "%s rejected:\n%s", kind, spec)
		},
		Entry("db:DATABASE1,DATABASE2:read,write --expiry 1y", "DatabaseToken", "permissions: [{databases: [DATABASE1, DATABASE2], actions: [read, write]}]\nexpiresAfter: 1y"),
		Entry("db:DATABASE_NAME:read,write", "DatabaseToken", "permissions: [{databases: [DATABASE_NAME], actions: [read, write]}]"),
		Entry("db:*:read,write", "DatabaseToken", `permissions: [{databases: ["*"], actions: [read, write]}]`),
		Entry("db:DATABASE_NAME:read", "DatabaseToken", "permissions: [{databases: [DATABASE_NAME], actions: [read]}]"),
		Entry("db:DATABASE_NAME,DATABASE2_NAME:read", "DatabaseToken", "permissions: [{databases: [DATABASE_NAME, DATABASE2_NAME], actions: [read]}]"),
		Entry("db:DATABASE_NAME:read,write --expiry 7d", "DatabaseToken", "permissions: [{databases: [DATABASE_NAME], actions: [read, write]}]\nexpiresAfter: 7d"),
		Entry("Cloud Dedicated --write-database only", "DatabaseToken", "permissions: [{databases: [DATABASE_NAME], actions: [write]}]"),
		Entry("Cloud Dedicated read on one, write on another", "DatabaseToken", "permissions:\n- {databases: [DATABASE_NAME], actions: [read]}\n- {databases: [DATABASE2_NAME], actions: [write]}"),
		Entry("Cloud Dedicated --read-database '*' --write-database '*'", "DatabaseToken", "permissions:\n- {databases: [\"*\"], actions: [write]}\n- {databases: [\"*\"], actions: [read]}"),
		Entry("v1 database with a retention policy", "DatabaseToken", "permissions: [{databases: [mydb/autogen, prod-metrics, sensor_data], actions: [write]}]"),
		Entry("docs/design.md §1 telegraf-writer", "DatabaseToken", `engineRef: {kind: ClusterTokenEngine, name: default}
permissions:
  - databases: [telemetry, logs]
    actions: [write]
expiresAfter: 720h
rotation: {renewBefore: 168h}
secret:
  name: telegraf-influx
  labels: {}
  extraKeys: {INFLUX_HOST: "{{ .EngineURL }}"}
  rolloutRestartTargets: [{kind: Deployment, name: telegraf}]
deletionPolicy: Revoke`),
		Entry("durations: 30m", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 30m"),
		Entry("durations: 12h", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 12h"),
		Entry("durations: 1d12h with renewBefore 2h", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 1d12h\nrotation: {renewBefore: 2h, overlap: 5m}"),
		Entry("durations: 2w", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 2w"),
		Entry("durations: 10y", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 10y"),
		Entry("durations: 10s", "DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nexpiresAfter: 10s"),
		Entry("system:health:read --expiry 1y", "SystemToken", "resources: [health]\nexpiresAfter: 1y"),
		Entry("system:metrics:read", "SystemToken", "resources: [metrics]"),
		Entry("system:ping:read", "SystemToken", "resources: [ping]\nactions: [read]"),
		Entry("system:ready:read", "SystemToken", "resources: [ready]"),
		Entry("system:*:read", "SystemToken", `resources: ["*"]`),
		Entry("system:health,metrics,ping:read", "SystemToken", "resources: [health, metrics, ping]"),
		Entry("docs/design.md §1 prometheus-scrape", "SystemToken", "resources: [metrics]\nexpiresAfter: 1y\nsecret: {name: engine-metrics-token}"),
		Entry("docs/design.md §1 default ClusterTokenEngine", "ClusterTokenEngine", validEngine+"\nallowedNamespaces: {matchNames: [\"*\"]}"),
		Entry("ClusterTokenEngine with a namespace selector", "ClusterTokenEngine", validEngine+"\nallowedNamespaces: {selector: {matchLabels: {tokens: allowed}}}"),
		Entry("influxdb2 engine", "ClusterTokenEngine", "influxdb2: {url: https://influx.example.com, org: acme, tokenSecretRef: {namespace: ops, name: v2-token}}"),
		Entry("cloudDedicated engine", "ClusterTokenEngine", "cloudDedicated: {accountID: 11111111-2222-3333-4444-555555555555, clusterID: 66666666-7777-8888-9999-000000000000, managementTokenSecretRef: {namespace: ops, name: mgmt}, dataURL: https://cluster-id.a.influxdb.io}"),
		Entry("influxdb1 engine", "ClusterTokenEngine", "influxdb1: {url: http://influxdb:8086, credentialsSecretRef: {namespace: ops, name: influx-admin}}"),
		Entry("TokenEngine in its own namespace", "TokenEngine", "influxdb3: {url: http://engine:8181, adminTokenSecretRef: {name: admin}, tls: {insecureSkipVerify: true}}"),
		Entry("ClusterTokenEngine policy (docs/policy.md)", "ClusterTokenEngine", validEngine+`
policy:
  rules:
  - name: team-a
    namespaces: {matchNames: [team-a, team-a-*]}
    databases: [team-a-*, shared/autogen]
    maxExpiresAfter: 30d
  - name: monitoring
    namespaces: {selector: {matchLabels: {tokens.example/monitoring: "true"}}}
    systemResources: [health, metrics]
    databases: ["*"]
  - name: everyone-else
    databases: [sandbox-*]
    maxExpiresAfter: 1d12h`),
		Entry("policy rule permitting every database read-only", "ClusterTokenEngine", validEngine+"\npolicy: {rules: [{name: a, allowAllDatabases: true, actions: [read]}, {name: b, allowAllSystemResources: true}]}"),
		Entry("ClusterTokenEngine policy with 32 rules", "ClusterTokenEngine", validEngine+"\npolicy: {rules: ["+manyRules(32)+"]}"),
		Entry("TokenEngine policy without namespaces", "TokenEngine", "influxdb3: {url: http://engine:8181, adminTokenSecretRef: {name: admin}}\npolicy: {rules: [{name: own, databases: [app-*], systemResources: [\"*\"], maxExpiresAfter: 7d}]}"),
	)

	It("fills in defaults", func() {
		obj := object("DatabaseToken", "permissions: [{databases: [a], actions: [read]}]\nengineRef: {name: e}\nrotation: {}")
		Expect(create(obj)).To(Succeed())
		Expect(obj.Object["spec"]).To(HaveKeyWithValue("deletionPolicy", "Revoke"))
		Expect(obj.Object["spec"]).To(HaveKeyWithValue("engineRef", HaveKeyWithValue("kind", "ClusterTokenEngine")))
		Expect(obj.Object["spec"]).To(HaveKeyWithValue("rotation", HaveKeyWithValue("overlap", "2m")))

		sys := object("SystemToken", "resources: [metrics]")
		Expect(create(sys)).To(Succeed())
		Expect(sys.Object["spec"]).To(HaveKeyWithValue("actions", ConsistOf("read")))

		eng := object("ClusterTokenEngine", "influxdb3: {url: http://e:8181, adminTokenSecretRef: {name: a}}")
		Expect(create(eng)).To(Succeed())
		Expect(eng.Object["spec"]).To(HaveKeyWithValue("influxdb3", HaveKeyWithValue("adminTokenSecretRef", HaveKeyWithValue("key", "token"))))
	})
})
