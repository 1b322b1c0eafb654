package controllers_test

import (
	"context"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
	"github.com/tokenops/token-operator/controllers"
	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/clouddedicated/clouddedicatedtest"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb1"
	"github.com/tokenops/token-operator/internal/engine/influxdb1/influxdb1test"
	"github.com/tokenops/token-operator/internal/engine/influxdb2/influxdb2test"
	"github.com/tokenops/token-operator/internal/enginefactory"
	"github.com/tokenops/token-operator/internal/engineref"
	"github.com/tokenops/token-operator/internal/testutil"
)

// A ClusterTokenEngine of kind influxdb2 and cloudDedicated reaches Ready against its test server
// (internal/engine/*/…test: test servers, not engines), shows its type, and a wrong credential
// is Unauthorized.
func TestEngineInfluxDB2AndCloudDedicatedBecomeReady(t *testing.T) {
	v2, cd := influxdb2test.Start(t), clouddedicatedtest.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	e.adminSecret(t, e.ns, "v2", v2.Token, nil)
	e.adminSecret(t, e.ns, "cd", cd.ManagementToken, nil)
	e.adminSecret(t, e.ns, "wrong", "WrongToken0123456789abcdefABCDEF", nil)
	influx2 := func(secret string) func(*tokensv1.ClusterTokenEngine) {
		return func(c *tokensv1.ClusterTokenEngine) {
			c.Spec.InfluxDB3 = nil
			c.Spec.InfluxDB2 = &tokensv1.InfluxDB2Engine{URL: tokensv1.EngineURL(v2.URL), Org: influxdb2test.Org,
				TokenSecretRef: tokensv1.SecretKeySelector{Name: secret, Key: "token"}}
		}
	}
	dedicated := func(secret string) func(*tokensv1.ClusterTokenEngine) {
		return func(c *tokensv1.ClusterTokenEngine) {
			c.Spec.InfluxDB3 = nil
			c.Spec.CloudDedicated = &tokensv1.CloudDedicatedEngine{URL: tokensv1.EngineURL(cd.URL), AccountID: cd.AccountID, ClusterID: cd.ClusterID,
				ManagementTokenSecretRef: tokensv1.SecretKeySelector{Name: secret, Key: "token"}, DataURL: tokensv1.EngineURL(cd.DataURL)}
		}
	}
	for _, tc := range []struct {
		name, typ string
		mutate    func(*tokensv1.ClusterTokenEngine)
		reason    string
	}{
		{"v2", tokensv1.EngineTypeInfluxDB2, influx2("v2"), tokensv1.ReasonReachable},
		{"v2-wrong", tokensv1.EngineTypeInfluxDB2, influx2("wrong"), tokensv1.ReasonUnauthorized},
		{"cd", tokensv1.EngineTypeCloudDedicated, dedicated("cd"), tokensv1.ReasonReachable},
		{"cd-wrong", tokensv1.EngineTypeCloudDedicated, dedicated("wrong"), tokensv1.ReasonUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cte := e.clusterEngine(t, tc.name, "http://unused", tc.mutate)
			waitEngine(t, cte, readyStatus(tc.reason), tc.reason)
			NewWithT(t).Expect(cte.Status.Type).To(Equal(tc.typ))
			assertNoAdminToken(t, v2.Token, cte)
			assertNoAdminToken(t, cd.ManagementToken, cte)
		})
	}
}

// v1Secret creates the admin credentials Secret of an influxdb1 engine.
func v1Secret(t *testing.T, ns, name, user, password string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data: map[string][]byte{"username": []byte(user), "password": []byte(password)}}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// A ClusterTokenEngine of kind influxdb1 reaches Ready against a real influxd; a wrong password
// is Unauthorized.
func TestEngineInfluxDB1BecomesReady(t *testing.T) {
	srv := influxdb1test.Start(t)
	e := startEngineManager(t, controllers.EngineDeps{})
	v1Secret(t, e.ns, "v1", srv.AdminUser, srv.AdminPassword)
	v1Secret(t, e.ns, "v1-wrong", srv.AdminUser, "not-the-password")
	for _, tc := range []struct{ name, secret, reason string }{
		{"v1", "v1", tokensv1.ReasonReachable},
		{"v1-wrong", "v1-wrong", tokensv1.ReasonUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cte := e.clusterEngine(t, tc.name, "http://unused", func(c *tokensv1.ClusterTokenEngine) {
				c.Spec.InfluxDB3 = nil
				c.Spec.InfluxDB1 = &tokensv1.InfluxDB1Engine{URL: tokensv1.EngineURL(srv.URL),
					CredentialsSecretRef: tokensv1.InfluxDB1Credentials{Name: tc.secret, UsernameKey: "username", PasswordKey: "password"}}
			})
			waitEngine(t, cte, readyStatus(tc.reason), tc.reason)
			NewWithT(t).Expect(cte.Status.Type).To(Equal(tokensv1.EngineTypeInfluxDB1))
			assertNoAdminToken(t, srv.AdminPassword, cte)
		})
	}
}

// recordingV1 records a 1.x mint's credentials for the plaintext scans, except the username:
// it is the token name, which status and logs show by design.
type recordingV1 struct{ engine.Engine }

func (r recordingV1) Mint(ctx context.Context, req engine.MintRequest) (engine.Minted, error) {
	m, err := r.Engine.Mint(ctx, req)
	if err == nil {
		minted.Add(m.Token.Reveal())
		minted.Add(m.SecretData[influxdb1.SecretKeyPassword].Reveal())
	}
	return m, err
}

// A DatabaseToken on InfluxDB 1.x is a user: the Secret carries username, password and token
// (username:password); the credentials write with Basic auth to the granted database only, and
// fail authentication once the DatabaseToken is deleted.
func TestInfluxDB1DatabaseToken(t *testing.T) {
	g := NewWithT(t)
	srv := influxdb1test.Start(t)
	srv.CreateDatabase(t, "telemetry")
	srv.CreateDatabase(t, "other")
	c, err := influxdb1.New(influxdb1.Config{Config: httpapi.Config{URL: srv.URL}, Username: srv.AdminUser, Password: engine.Plaintext(srv.AdminPassword)})
	g.Expect(err).NotTo(HaveOccurred())
	ns := newNamespace(t)
	startManager(t, ns, controllers.TokenDeps{Resolver: &engineref.Static{Resolved: engineref.Resolved{
		Engine: recordingV1{c}, Kind: tokensv1.ClusterTokenEngineKind, Name: "v1", Description: enginefactory.Description{Type: tokensv1.EngineTypeInfluxDB1, WorkloadURL: srv.URL},
	}}})
	k := databaseTokenKind
	obj := k.new("telegraf-writer", ns, testutil.ExpiresAfter("720h"), testutil.WithSecretName("telegraf-influx"))
	testutil.WithPermissions(obj.(*tokensv1.DatabaseToken), tokensv1.DatabasePermission{
		Databases: []tokensv1.DatabaseName{"telemetry"}, Actions: []tokensv1.Action{tokensv1.ActionWrite},
	})
	got := createReady(t, k, obj)

	sec := secret(g, ns, "telegraf-influx")
	user, password := string(sec.Data["username"]), string(sec.Data["password"])
	g.Expect(user).To(Equal(k.status(got).Current.TokenName))
	g.Expect(string(sec.Data[tokensv1.TokenSecretKey])).To(Equal(user + ":" + password))
	g.Expect(srv.Write(t, user, password, "telemetry")).To(Equal(http.StatusNoContent))
	g.Expect(srv.Write(t, user, password, "other")).To(Equal(http.StatusForbidden))

	g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
	waitGone(t, obj)
	g.Expect(srv.Write(t, user, password, "telemetry")).To(Equal(http.StatusUnauthorized))
	assertNoPlaintext(t, ns)
}
