// Package e2e runs the real token-operator binary as a process, the way users and Kubernetes do.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/httpapi"
	"github.com/tokenops/token-operator/internal/engine/influxdb3"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

// TestEngineBinaryServesTLSSurvivesRestartAndStopsOnSIGTERM starts `token-operator engine` with
// TLS, mints through the operator's influxdb3 client, stops the process with SIGTERM, starts it
// again on the same data dir and checks the token still authorizes. Nothing logged holds the token.
func TestEngineBinaryServesTLSSurvivesRestartAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	bin, err := testenv.BuildOperator(dir)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, certFile, keyFile := selfSignedCert(t, dir)
	admin := tokenenginetest.NewTokenString(t)
	adminFile := filepath.Join(dir, "admin.json")
	if err := os.WriteFile(adminFile, []byte(fmt.Sprintf(`{"token":%q,"name":"_admin"}`, admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	url := "https://" + addr
	var logs bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "engine", "--listen", addr, "--data-dir", filepath.Join(dir, "data"),
			"--admin-token-file", adminFile, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--log-format", "json")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		waitLive(t, url, caPEM)
		return cmd
	}

	cmd := start()
	client, err := influxdb3.New(httpapi.Config{URL: url, CABundle: caPEM}, engine.Plaintext(admin))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Check(ctx); err != nil {
		t.Fatalf("check over TLS: %v", err)
	}
	minted, err := client.Mint(ctx, engine.MintRequest{Name: "k8s.e2e.writer.00000000.r1",
		Permissions: []engine.Permission{{Type: engine.ResourceDatabase, Names: []string{"telemetry"}, Actions: []engine.Action{engine.ActionWrite}}},
		TTL:         time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := tokenenginetest.AuthorizeStatus(tlsClient(caPEM), url, minted.Token.Reveal(), "telemetry", "write"); got != http.StatusNoContent {
		t.Fatalf("authorize write telemetry = %d, want 204", got)
	}
	if got := tokenenginetest.AuthorizeStatus(tlsClient(caPEM), url, minted.Token.Reveal(), "telemetry", "read"); got != http.StatusForbidden {
		t.Fatalf("authorize read telemetry = %d, want 403", got)
	}

	stop(t, cmd)
	start()
	if got := tokenenginetest.AuthorizeStatus(tlsClient(caPEM), url, minted.Token.Reveal(), "telemetry", "write"); got != http.StatusNoContent {
		t.Fatalf("after restart: authorize = %d, want 204", got)
	}
	if err := client.Revoke(ctx, minted.Name, ""); err != nil {
		t.Fatal(err)
	}
	if got := tokenenginetest.AuthorizeStatus(tlsClient(caPEM), url, minted.Token.Reveal(), "telemetry", "write"); got != http.StatusUnauthorized {
		t.Fatalf("after revoke: authorize = %d, want 401", got)
	}
	if strings.Contains(logs.String(), minted.Token.Reveal()) || strings.Contains(logs.String(), admin) {
		t.Fatalf("engine logs contain a token:\n%s", logs.String())
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) within ten seconds.
func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("engine exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("engine did not stop within 10s of SIGTERM")
	}
}

func waitLive(t *testing.T, url string, caPEM []byte) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := tlsClient(caPEM).Get(url + "/livez"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("engine at %s did not answer /livez within 15s", url)
}

func tlsClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key; the certificate is its own CA.
func selfSignedCert(t *testing.T, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "token-engine"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caPEM, certFile, keyFile
}
