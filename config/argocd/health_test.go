// Package argocd holds the Argo CD health checks of the token-operator kinds (Lua scripts laid out
// as in Argo CD's resource_customizations: <group>/<kind>/health.lua). The tests run them in
// gopher-lua the way Argo CD does and keep docs/argocd.md's argocd-cm snippet equal to the files.
package argocd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the argocd-cm snippet in docs/argocd.md from the script files")

var group = tokensv1.GroupVersion.Group

// kinds are every kind with a health check, in the order docs/argocd.md lists them.
var kinds = []string{"DatabaseToken", "SystemToken", "ClusterTokenEngine", "TokenEngine"}

func scriptPath(kind string) string { return filepath.Join(group, kind, "health.lua") }

func readScript(t *testing.T, kind string) string {
	t.Helper()
	b, err := os.ReadFile(scriptPath(kind))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// health is what Argo CD takes from the table a health script returns.
type health struct{ Status, Message string }

// runHealth runs script over obj as Argo CD's util/lua does: a fresh state with only the package,
// base and table libraries (no string, os or io), obj as a global decoded from the object's JSON,
// a one-second deadline, and the returned table read as {status, message}.
func runHealth(script string, obj any) (health, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return health{}, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return health{}, err
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return health{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, m))
	if err := l.DoString(script); err != nil {
		return health{}, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	h := health{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
	switch h.Status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return h, nil
	}
	return h, fmt.Errorf("status %q is not an Argo CD health status", h.Status)
}

// decodeValue is Argo CD's conversion of a decoded JSON value into Lua values.
func decodeValue(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(decodeValue(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), decodeValue(l, item))
		}
		return t
	}
	return lua.LNil
}

// The fixtures below are status objects as the controllers write them: the condition types and
// reasons are the api/v1alpha1 constants the lifecycle (internal/lifecycle/conditions.go,
// mint.go, normal.go) and the engine reconcilers (controllers/engine_outcome.go) set, and the
// messages follow the formats they use.

var (
	minted     = metav1.NewTime(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	expiresAt  = metav1.NewTime(minted.Add(720 * time.Hour))
	readyMsg   = `Secret "telegraf-influx" holds token "k8s.monitoring.telegraf-writer.1a2b3c4d.r1" (revision 1); it expires at 2026-12-23T09:00:00Z`
	currentRec = &tokensv1.TokenRecord{TokenName: "k8s.monitoring.telegraf-writer.1a2b3c4d.r1", Revision: 1, MintedAt: &minted, ExpiresAt: &expiresAt}
)

func cond(t string, s metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: minted}
}

type tokenCase struct {
	name       string
	generation int64
	deleting   bool
	status     tokensv1.TokenStatus
	want       string
	wantInMsg  string
}

func tokenCases() []tokenCase {
	const gen = 2
	ready := cond(tokensv1.ConditionReady, metav1.ConditionTrue, tokensv1.ReasonMinted, readyMsg, gen)
	notReady := func(reason, msg string) metav1.Condition {
		return cond(tokensv1.ConditionReady, metav1.ConditionFalse, reason, msg, gen)
	}
	reachable := cond(tokensv1.ConditionEngineReachable, metav1.ConditionTrue, tokensv1.ReasonReachable, `ClusterTokenEngine "default" answered`, gen)
	engineErr := `ClusterTokenEngine "default": minting token "k8s.monitoring.telegraf-writer.1a2b3c4d.r2": dial tcp 10.0.0.7:8181: connect: connection refused; retrying with backoff, the Secret is kept`
	return []tokenCase{
		{name: "new, no status yet", generation: 1, want: "Progressing", wantInMsg: "Waiting for the operator"},
		{name: "minted and live", generation: gen, want: "Healthy", wantInMsg: readyMsg, status: tokensv1.TokenStatus{
			ObservedGeneration: gen, SecretName: "telegraf-influx", Current: currentRec,
			Conditions: []metav1.Condition{ready, reachable,
				cond(tokensv1.ConditionExpired, metav1.ConditionFalse, tokensv1.ReasonNotExpired, "The token has not reached its expiry", gen),
				cond(tokensv1.ConditionSecretConflict, metav1.ConditionFalse, tokensv1.ReasonNoConflict, `Secret "telegraf-influx" is ours or does not exist yet`, gen)},
		}},
		{name: "first mint under way", generation: gen, want: "Progressing", wantInMsg: "Minting: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen, Pending: &tokensv1.PendingMint{Revision: 1, TokenName: "k8s.monitoring.telegraf-writer.1a2b3c4d.r1", StartedAt: &minted},
			Conditions: []metav1.Condition{notReady(tokensv1.ReasonMinting, `Minting token "k8s.monitoring.telegraf-writer.1a2b3c4d.r1"`)},
		}},
		{name: "live while a successor is pending (rotation)", generation: gen, want: "Healthy", wantInMsg: readyMsg, status: tokensv1.TokenStatus{
			ObservedGeneration: gen, Current: currentRec,
			Pending:    &tokensv1.PendingMint{Revision: 2, TokenName: "k8s.monitoring.telegraf-writer.1a2b3c4d.r2", StartedAt: &minted},
			Conditions: []metav1.Condition{ready, reachable},
		}},
		{name: "spec changed, not yet observed", generation: gen + 1, want: "Progressing", wantInMsg: "generation 3 (observed 2)", status: tokensv1.TokenStatus{
			ObservedGeneration: gen, Current: currentRec, Conditions: []metav1.Condition{ready},
		}},
		{name: "expired", generation: gen, want: "Degraded", wantInMsg: "Expired: The token reached its expiry", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions: []metav1.Condition{notReady(tokensv1.ReasonExpired, "The token reached its expiry at 2026-12-23T09:00:00Z and was revoked"),
				cond(tokensv1.ConditionExpired, metav1.ConditionTrue, tokensv1.ReasonExpired, "The token reached its expiry at 2026-12-23T09:00:00Z and was revoked", gen)},
		}},
		{name: "namespace not permitted", generation: gen, want: "Degraded", wantInMsg: "NotPermitted: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonNotPermitted, `ClusterTokenEngine "default" does not allow namespace "monitoring" (spec.allowedNamespaces)`)},
		}},
		{name: "Secret conflict", generation: gen, want: "Degraded", wantInMsg: "it is never overwritten", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions: []metav1.Condition{
				notReady(tokensv1.ReasonSecretExists, `Secret "telegraf-influx" exists and is not owned by this DatabaseToken; it is never overwritten. Delete or rename that Secret, or set spec.secret.name to another name`),
				cond(tokensv1.ConditionSecretConflict, metav1.ConditionTrue, tokensv1.ReasonSecretExists, `Secret "telegraf-influx" exists and is not owned by this DatabaseToken; it is never overwritten.`, gen)},
		}},
		{name: "template error", generation: gen, want: "Degraded", wantInMsg: "TemplateError: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonTemplateError, `extraKeys["INFLUX_HOST"]: template: x:1: function "nope" not defined; fix spec.secret.extraKeys`)},
		}},
		{name: "unsupported by the engine", generation: gen, want: "Degraded", wantInMsg: "Unsupported: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonUnsupported, `TokenEngine "v2" (type influxdb2) has no system tokens`)},
		}},
		{name: "engine rejected the request", generation: gen, want: "Degraded", wantInMsg: "EngineRejected: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonEngineRejected, "minting: 400 bad request; the engine will not accept this, fix the spec")},
		}},
		{name: "engine down before the first mint", generation: gen, want: "Progressing", wantInMsg: "EngineError: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen - 1, // a failed pass does not record the generation
			Conditions: []metav1.Condition{notReady(tokensv1.ReasonEngineError, engineErr),
				cond(tokensv1.ConditionEngineReachable, metav1.ConditionFalse, tokensv1.ReasonEngineError, engineErr, gen)},
		}},
		{name: "engine down, token live", generation: gen, want: "Healthy", wantInMsg: "the engine is not answering (EngineError)", status: tokensv1.TokenStatus{
			ObservedGeneration: gen, Current: currentRec,
			Conditions: []metav1.Condition{ready, cond(tokensv1.ConditionEngineReachable, metav1.ConditionFalse, tokensv1.ReasonEngineError, engineErr, gen)},
		}},
		{name: "engine refused the operator's credentials", generation: gen, want: "Degraded", wantInMsg: "Unauthorized: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonUnauthorized, `ClusterTokenEngine "default" refused the credentials in Secret token-operator/token-engine-admin`)}}},
		{name: "engine credentials Secret missing", generation: gen, want: "Degraded", wantInMsg: "CredentialsNotFound: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonCredentialsNotFound, `Secret token-operator/token-engine-admin not found`)}}},
		{name: "engine resource not created yet", generation: gen, want: "Progressing", wantInMsg: "EngineNotFound: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen,
			Conditions:         []metav1.Condition{notReady(tokensv1.ReasonEngineNotFound, `ClusterTokenEngine "default" does not exist`)},
		}},
		{name: "being deleted, engine down", generation: gen, deleting: true, want: "Progressing", wantInMsg: "RevocationFailed: revoking", status: tokensv1.TokenStatus{
			ObservedGeneration: gen, Current: currentRec,
			Conditions: []metav1.Condition{ready, cond(tokensv1.ConditionRevocationFailed, metav1.ConditionTrue, tokensv1.ReasonRevocationFailed,
				"revoking token \"k8s.monitoring.telegraf-writer.1a2b3c4d.r1\": connection refused; retrying with backoff. To release the DatabaseToken without revoking, annotate it tokens.tokenops.dev/skip-revocation=true", gen)},
		}},
		{name: "reason this script does not know", generation: gen, want: "Degraded", wantInMsg: "SomethingNew: ", status: tokensv1.TokenStatus{
			ObservedGeneration: gen, Conditions: []metav1.Condition{notReady("SomethingNew", "a future reason")},
		}},
	}
}

func TestTokenHealth(t *testing.T) {
	for _, kind := range []string{"DatabaseToken", "SystemToken"} {
		script := readScript(t, kind)
		for _, tc := range tokenCases() {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				meta := metav1.ObjectMeta{Name: "telegraf-writer", Namespace: "monitoring", Generation: tc.generation, UID: "1a2b3c4d-0000-0000-0000-000000000000"}
				if tc.deleting {
					meta.DeletionTimestamp = &minted
					meta.Finalizers = []string{tokensv1.Finalizer}
				}
				var obj any
				switch kind {
				case "DatabaseToken":
					obj = &tokensv1.DatabaseToken{TypeMeta: metav1.TypeMeta{APIVersion: tokensv1.GroupVersion.String(), Kind: kind}, ObjectMeta: meta,
						Spec:   tokensv1.DatabaseTokenSpec{Permissions: []tokensv1.DatabasePermission{{Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{"write"}}}},
						Status: tokensv1.DatabaseTokenStatus{TokenStatus: tc.status}}
				default:
					obj = &tokensv1.SystemToken{TypeMeta: metav1.TypeMeta{APIVersion: tokensv1.GroupVersion.String(), Kind: kind}, ObjectMeta: meta,
						Spec:   tokensv1.SystemTokenSpec{Resources: []tokensv1.SystemResource{"metrics"}},
						Status: tokensv1.SystemTokenStatus{TokenStatus: tc.status}}
				}
				got, err := runHealth(script, obj)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != tc.want || !strings.Contains(got.Message, tc.wantInMsg) {
					t.Errorf("got %s %q, want %s with message containing %q", got.Status, got.Message, tc.want, tc.wantInMsg)
				}
			})
		}
	}
}

func TestEngineHealth(t *testing.T) {
	const gen = 3
	const url = "http://token-engine.token-operator.svc:8181"
	engineCond := func(s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return cond(tokensv1.ConditionReady, s, reason, msg, gen)
	}
	cases := []struct {
		name       string
		generation int64
		status     tokensv1.EngineStatus
		want       string
		wantInMsg  string
	}{
		{name: "not checked yet", generation: gen, want: "Progressing", wantInMsg: "Waiting for the operator"},
		{name: "reachable", generation: gen, want: "Healthy", wantInMsg: "accepted the credentials", status: tokensv1.EngineStatus{
			ObservedGeneration: gen, Type: "influxdb3", URL: url,
			Conditions: []metav1.Condition{engineCond(metav1.ConditionTrue, tokensv1.ReasonReachable, "The engine at "+url+" accepted the credentials in Secret token-operator/token-engine-admin.")}}},
		{name: "spec changed, not yet checked", generation: gen + 1, want: "Progressing", wantInMsg: "generation 4 (observed 3)", status: tokensv1.EngineStatus{
			ObservedGeneration: gen, Conditions: []metav1.Condition{engineCond(metav1.ConditionTrue, tokensv1.ReasonReachable, "ok")}}},
		{name: "unreachable", generation: gen, want: "Degraded", wantInMsg: "Unreachable: The engine at", status: tokensv1.EngineStatus{
			ObservedGeneration: gen,
			Conditions: []metav1.Condition{engineCond(metav1.ConditionFalse, tokensv1.ReasonUnreachable, "The engine at "+url+" could not be reached: check the URL and that the engine is running"),
				cond(tokensv1.ConditionEngineReachable, metav1.ConditionFalse, tokensv1.ReasonUnreachable, "could not be reached", gen)}}},
		{name: "unauthorized", generation: gen, want: "Degraded", wantInMsg: "Unauthorized: ", status: tokensv1.EngineStatus{
			ObservedGeneration: gen, Conditions: []metav1.Condition{engineCond(metav1.ConditionFalse, tokensv1.ReasonUnauthorized, "refused the credentials")}}},
		{name: "credentials Secret missing", generation: gen, want: "Degraded", wantInMsg: "CredentialsNotFound: ", status: tokensv1.EngineStatus{
			ObservedGeneration: gen, Conditions: []metav1.Condition{engineCond(metav1.ConditionFalse, tokensv1.ReasonCredentialsNotFound, `Secret token-operator/token-engine-admin not found`),
				cond(tokensv1.ConditionEngineReachable, metav1.ConditionUnknown, tokensv1.ReasonNotChecked, "The engine was not contacted", gen)}}},
		{name: "invalid config", generation: gen, want: "Degraded", wantInMsg: "InvalidConfig: ", status: tokensv1.EngineStatus{
			ObservedGeneration: gen, Conditions: []metav1.Condition{engineCond(metav1.ConditionFalse, tokensv1.ReasonInvalidConfig, "tls.caBundle holds no PEM certificate")}}},
		{name: "Ready unknown", generation: gen, want: "Progressing", wantInMsg: "checking", status: tokensv1.EngineStatus{
			ObservedGeneration: gen, Conditions: []metav1.Condition{engineCond(metav1.ConditionUnknown, tokensv1.ReasonNotChecked, "checking")}}},
	}
	for _, kind := range []string{"ClusterTokenEngine", "TokenEngine"} {
		script := readScript(t, kind)
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				meta := metav1.ObjectMeta{Name: "default", Generation: tc.generation}
				spec := tokensv1.EngineSpec{InfluxDB3: &tokensv1.InfluxDB3Engine{URL: url, AdminTokenSecretRef: tokensv1.SecretKeySelector{Name: "token-engine-admin"}}}
				var obj any
				if kind == "ClusterTokenEngine" {
					obj = &tokensv1.ClusterTokenEngine{TypeMeta: metav1.TypeMeta{APIVersion: tokensv1.GroupVersion.String(), Kind: kind}, ObjectMeta: meta,
						Spec: tokensv1.ClusterTokenEngineSpec{EngineSpec: spec}, Status: tc.status}
				} else {
					meta.Namespace = "team-a"
					obj = &tokensv1.TokenEngine{TypeMeta: metav1.TypeMeta{APIVersion: tokensv1.GroupVersion.String(), Kind: kind}, ObjectMeta: meta,
						Spec: tokensv1.TokenEngineSpec{EngineSpec: spec}, Status: tc.status}
				}
				got, err := runHealth(script, obj)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != tc.want || !strings.Contains(got.Message, tc.wantInMsg) {
					t.Errorf("got %s %q, want %s with message containing %q", got.Status, got.Message, tc.want, tc.wantInMsg)
				}
			})
		}
	}
}

// TestScriptsUseOnlyArgoLibraries makes sure the emulation would catch a script that reaches for
// a library Argo CD does not open.
func TestScriptsUseOnlyArgoLibraries(t *testing.T) {
	if _, err := runHealth(`return {status = string.upper("healthy")}`, map[string]any{}); err == nil {
		t.Fatal("the string library is open in the emulated Argo CD VM")
	}
}

// TestScriptsOfOneFamilyAreIdentical keeps the per-kind copies (Argo CD needs one key per kind) in step.
func TestScriptsOfOneFamilyAreIdentical(t *testing.T) {
	if readScript(t, "DatabaseToken") != readScript(t, "SystemToken") {
		t.Error("DatabaseToken and SystemToken health.lua differ")
	}
	if readScript(t, "ClusterTokenEngine") != readScript(t, "TokenEngine") {
		t.Error("ClusterTokenEngine and TokenEngine health.lua differ")
	}
}

// argocdCM renders the argocd-cm snippet from the script files.
func argocdCM(t *testing.T) string {
	var b strings.Builder
	b.WriteString("```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\n" +
		"  labels:\n    app.kubernetes.io/name: argocd-cm\n    app.kubernetes.io/part-of: argocd\ndata:\n")
	for _, kind := range kinds {
		fmt.Fprintf(&b, "  resource.customizations.health.%s_%s: |\n", group, kind)
		for _, line := range strings.Split(strings.TrimRight(readScript(t, kind), "\n"), "\n") {
			if line == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString("    " + line + "\n")
		}
	}
	b.WriteString("```\n")
	return b.String()
}

var snippetBlock = regexp.MustCompile("(?s)(<!-- BEGIN argocd-cm[^\n]*-->\n).*?(<!-- END argocd-cm -->)")

// TestDocEmbedsTheScripts fails when docs/argocd.md's snippet is not exactly the script files;
// `go test ./config/argocd -run TestDocEmbedsTheScripts -update` rewrites it.
func TestDocEmbedsTheScripts(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(), "docs", "argocd.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !snippetBlock.Match(doc) {
		t.Fatalf("%s has no <!-- BEGIN argocd-cm --> … <!-- END argocd-cm --> block", path)
	}
	snippet := argocdCM(t)
	m := snippetBlock.FindSubmatchIndex(doc)
	rendered := string(doc[:m[3]]) + snippet + string(doc[m[4]:])
	if rendered == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(rendered), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the argocd-cm snippet differs from config/argocd; run `go test ./config/argocd -run TestDocEmbedsTheScripts -update`", path)
}
