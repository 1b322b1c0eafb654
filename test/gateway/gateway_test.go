//go:build linux

// Package gateway_test runs one table of allowed requests and attacks through a real NGINX
// (configured with the block from docs/gateway.md) and through the token-operator gateway proxy,
// each in front of a backend that records what reaches it, with tokens minted by a real engine.
package gateway_test

import (
	"encoding/base64"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenops/token-operator/internal/gateway"
	"github.com/tokenops/token-operator/internal/testenv"
	"github.com/tokenops/token-operator/internal/tokenengine"
	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

const upstreamToken = "upstream-secret-token"

// tokens minted by the engine for the table.
type tokens map[string]string

// tc is one row: a request, the token and how it is presented, and the expected status through
// forward auth (fa: the engine's answer, NGINX turns 400 into 500) and through the proxy (px);
// 0 means allowed: the backend must receive the request.
type tc struct {
	name   string
	method string
	uri    string
	body   string
	ctype  string
	tok    string // key into tokens, "" for none
	form   string // bearer, token, basic, p (query string), none
	header []string
	fa, px int
}

func table() []tc {
	return []tc{
		// allowed traffic
		{name: "v3 write_lp", method: "POST", uri: "/api/v3/write_lp?db=a&precision=s", body: "m f=1 1", tok: "rw", form: "bearer"},
		{name: "v3 query_sql GET", method: "GET", uri: "/api/v3/query_sql?db=a&q=SELECT+1", tok: "ro", form: "bearer"},
		{name: "v3 query_influxql GET", method: "GET", uri: "/api/v3/query_influxql?db=a&q=SHOW+MEASUREMENTS", tok: "ro", form: "token"},
		{name: "v3 query_sql POST body", method: "POST", uri: "/api/v3/query_sql", body: `{"db":"a","q":"SELECT 1"}`, ctype: "application/json", tok: "ro", form: "bearer", fa: 403},
		{name: "v3 query_influxql POST body", method: "POST", uri: "/api/v3/query_influxql", body: `{"db":"a","q":"SELECT * FROM m"}`, ctype: "application/json", tok: "ro", form: "bearer", fa: 403},
		{name: "v2 write", method: "POST", uri: "/api/v2/write?bucket=a&org=o", body: "m f=1", tok: "wo", form: "token"},
		{name: "v1 write p", method: "POST", uri: "/write?db=a&p=TOKEN", body: "m f=1", tok: "wo", form: "p"},
		{name: "v1 write basic", method: "POST", uri: "/write?db=a&rp=autogen", body: "m f=1", tok: "wo", form: "basic"},
		{name: "v1 query GET", method: "GET", uri: "/query?db=a&q=SELECT+*+FROM+m", tok: "ro", form: "bearer"},
		{name: "v1 query u and p", method: "GET", uri: "/query?db=a&u=me&p=TOKEN&q=SHOW+TAG+KEYS", tok: "ro", form: "p"},
		{name: "v1 query POST form", method: "POST", uri: "/query?db=a", body: "q=SELECT+*+FROM+m", ctype: "application/x-www-form-urlencoded", tok: "ro", form: "bearer", fa: 403},
		{name: "v1 select into own db", method: "GET", uri: "/query?db=a&q=SELECT+*+INTO+m2+FROM+m", tok: "rw", form: "bearer"},
		{name: "system health", method: "GET", uri: "/health", tok: "health", form: "bearer"},
		{name: "system ping", method: "GET", uri: "/ping", tok: "health", form: "bearer", fa: 403, px: 403},
		{name: "system metrics", method: "GET", uri: "/metrics", tok: "health", form: "bearer", fa: 403, px: 403},
		{name: "admin configure", method: "POST", uri: "/api/v3/configure/database", body: `{"db":"x"}`, ctype: "application/json", tok: "admin", form: "bearer"},
		{name: "admin v2 query", method: "POST", uri: "/api/v2/query?org=o", body: `from(bucket:"b")`, tok: "admin", form: "token"},
		{name: "admin drop", method: "GET", uri: "/query?q=DROP+DATABASE+b", tok: "admin", form: "bearer"},
		// attacks from the issue
		{name: "X-Forwarded-Uri names another db", method: "POST", uri: "/api/v3/write_lp?db=b", body: "m f=1", tok: "wo", form: "bearer", header: []string{"X-Forwarded-Uri", "/api/v3/write_lp?db=a", "X-Forwarded-Method", "POST"}, fa: 403, px: 403},
		{name: "X-Original-URI names another db", method: "POST", uri: "/api/v3/write_lp?db=b", body: "m f=1", tok: "wo", form: "bearer", header: []string{"X-Original-URI", "/api/v3/write_lp?db=a", "X-Original-Method", "POST"}, fa: 403, px: 403},
		{name: "query_sql body names another db", method: "POST", uri: "/api/v3/query_sql?db=a", body: `{"db":"b","q":"SELECT 1"}`, ctype: "application/json", tok: "ro", form: "bearer", fa: 403, px: 400},
		{name: "query_sql body only another db", method: "POST", uri: "/api/v3/query_sql", body: `{"db":"b","q":"SELECT 1"}`, ctype: "application/json", tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "influxql body another db in statement", method: "POST", uri: "/api/v3/query_influxql", body: `{"db":"a","q":"SELECT * FROM \"b\"..\"m\""}`, ctype: "application/json", tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "v1 form DROP DATABASE", method: "POST", uri: "/query?db=a", body: "q=DROP+DATABASE+b", ctype: "application/x-www-form-urlencoded", tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "v1 GET DROP DATABASE", method: "GET", uri: "/query?db=a&q=DROP+DATABASE+b", tok: "rw", form: "bearer", fa: 403, px: 403},
		{name: "v1 qualified measurement", method: "GET", uri: `/query?db=a&q=SELECT+*+FROM+%22b%22..%22m%22`, tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "v1 subquery other db", method: "GET", uri: `/query?db=a&q=SELECT+*+FROM+(SELECT+*+FROM+%22b%22..m)`, tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "v1 select into other db", method: "GET", uri: `/query?db=a&q=SELECT+*+INTO+%22b%22..m2+FROM+m`, tok: "rw", form: "bearer", fa: 403, px: 403},
		{name: "v1 second statement drops", method: "GET", uri: `/query?db=a&q=SELECT+*+FROM+m%3BDROP+MEASUREMENT+m`, tok: "rw", form: "bearer", fa: 403, px: 403},
		{name: "v1 show databases", method: "GET", uri: `/query?q=SHOW+DATABASES`, tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "v1 unparsable", method: "GET", uri: `/query?db=a&q=SELEC+x`, tok: "ro", form: "bearer", fa: 400, px: 400},
		{name: "duplicate db", method: "POST", uri: "/api/v3/write_lp?db=a&db=b", body: "m f=1", tok: "wo", form: "bearer", fa: 400, px: 400},
		{name: "duplicate bucket", method: "POST", uri: "/api/v2/write?bucket=a&bucket=b", body: "m f=1", tok: "wo", form: "bearer", fa: 400, px: 400},
		{name: "duplicate q", method: "GET", uri: "/query?db=a&q=SELECT+*+FROM+m&q=DROP+DATABASE+a", tok: "ro", form: "bearer", fa: 400, px: 400},
		{name: "v1 write rp composes db/rp", method: "POST", uri: "/write?db=a&rp=x", body: "m f=1", tok: "rw", form: "bearer", fa: 403, px: 403},
		{name: "v2 bucket db/rp", method: "POST", uri: "/api/v2/write?bucket=a/x", body: "m f=1", tok: "rw", form: "bearer", fa: 403, px: 403},
		{name: "write with GET", method: "GET", uri: "/api/v3/write_lp?db=a", tok: "rw", form: "bearer", fa: 403, px: 403},
		{name: "escaped path", method: "POST", uri: "/api/v3/%77rite_lp?db=a", body: "m f=1", tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "header and p", method: "POST", uri: "/write?db=a&p=apiv3_other", body: "m f=1", tok: "wo", form: "bearer", fa: 400, px: 400},
		{name: "unknown token", method: "POST", uri: "/api/v3/write_lp?db=a", body: "m f=1", tok: "bogus", form: "bearer", fa: 401, px: 401},
		{name: "no token", method: "GET", uri: "/query?db=a&q=SELECT+*+FROM+m", form: "none", fa: 401, px: 401},
		{name: "read token writes", method: "POST", uri: "/api/v3/write_lp?db=a", body: "m f=1", tok: "ro", form: "bearer", fa: 403, px: 403},
		{name: "v2 flux query resource token", method: "POST", uri: "/api/v2/query?org=o", body: `from(bucket:"a")`, tok: "ro", form: "token", fa: 403, px: 403},
	}
}

func mintTokens(t *testing.T, inst *tokenenginetest.Instance) tokens {
	toks := tokens{"admin": inst.AdminToken, "bogus": "apiv3_bogus"}
	for name, body := range map[string]string{
		"rw":     `{"token_name":"rw","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read","write"]}]}`,
		"ro":     `{"token_name":"ro","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read"]}]}`,
		"wo":     `{"token_name":"wo","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["write"]}]}`,
		"health": `{"token_name":"health","permissions":[{"resource_type":"system","resource_names":["health"],"actions":["read"]}]}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, inst.URL+tokenengine.PathResourceToken, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+inst.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		tok := between(string(b), `"token":"`, `"`)
		if resp.StatusCode != http.StatusCreated || tok == "" {
			t.Fatalf("mint %s: %d", name, resp.StatusCode)
		}
		toks[name] = tok
	}
	return toks
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// send sends c to base and returns the status and body; the token never appears in c's URI
// literally ("TOKEN" is replaced).
func send(t *testing.T, base string, c tc, toks tokens) (int, string) {
	tok := toks[c.tok]
	uri := strings.ReplaceAll(c.uri, "TOKEN", url.QueryEscape(tok))
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+uri, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "//" + req.URL.Host + strings.SplitN(uri, "?", 2)[0] // keep the path exactly as written
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	switch c.form {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+tok)
	case "token":
		req.Header.Set("Authorization", "Token "+tok)
	case "basic":
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("user:"+tok)))
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runTable sends every row through base and checks the status and what the backend received.
// proxied: the front is the token-operator gateway (credentials replaced), else forward auth.
func runTable(t *testing.T, base string, be *testenv.Recorder, toks tokens, proxied bool, denyCode func(int) int) {
	for _, c := range table() {
		t.Run(c.name, func(t *testing.T) {
			want := c.fa
			if proxied {
				want = c.px
			}
			code, body := send(t, base, c, toks)
			got := be.Take()
			for name, tok := range toks {
				if name != "bogus" && strings.Contains(body, tok) {
					t.Errorf("the answer quotes token %s", name)
				}
			}
			if want != 0 {
				if code != denyCode(want) {
					t.Errorf("got %d %s, want %d", code, body, denyCode(want))
				}
				if len(got) != 0 {
					t.Errorf("a denied request reached the backend: %+v", got)
				}
				return
			}
			if code >= 300 || len(got) != 1 {
				t.Fatalf("allowed request: got %d %s, backend received %d requests", code, body, len(got))
			}
			r := got[0]
			wantURI := strings.ReplaceAll(c.uri, "TOKEN", url.QueryEscape(toks[c.tok]))
			if proxied {
				wantURI = strings.NewReplacer("&p="+url.QueryEscape(toks[c.tok]), "", "&u=me", "").Replace(wantURI)
				if r.Auth != "Token "+upstreamToken {
					t.Errorf("backend got Authorization %q, want the upstream token", r.Auth)
				}
			}
			if r.Method != c.method || r.URI != wantURI || r.Body != c.body {
				t.Errorf("backend got %s %s %q, want %s %s %q", r.Method, r.URI, r.Body, c.method, wantURI, c.body)
			}
			if proxied {
				for name, tok := range toks {
					if strings.Contains(r.URI+r.Body+strings.Join(flatten(r.Header), " "), tok) {
						t.Errorf("the client's token %s reached the backend", name)
					}
				}
			}
		})
	}
}

func flatten(h http.Header) []string {
	var s []string
	for k, vs := range h {
		s = append(s, k+": "+strings.Join(vs, ", "))
	}
	return s
}

// TestNGINX runs the table through a real NGINX configured with docs/gateway.md's block.
func TestNGINX(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed (Debian: apt-get install -y nginx-light, as hack/ci-packages.sh does); skipping the real-NGINX gateway test")
	}
	inst := tokenenginetest.Start(t)
	toks := mintTokens(t, inst)
	be := testenv.NewRecorder(t)
	addr := startNGINX(t, bin, be.Listener.Addr().String(), strings.TrimPrefix(inst.URL, "http://"))
	runTable(t, "http://"+addr, be, toks, false, func(c int) int {
		if c == 400 {
			return 500 // auth_request turns any answer but 401/403 into 500
		}
		return c
	})
}

// TestProxy runs the same table through the token-operator gateway proxy.
func TestProxy(t *testing.T) {
	inst := tokenenginetest.Start(t)
	toks := mintTokens(t, inst)
	be := testenv.NewRecorder(t)
	up, _ := url.Parse(be.URL)
	p, err := gateway.New(gateway.Config{Upstream: up, UpstreamToken: upstreamToken, EngineURL: inst.URL, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	runTable(t, srv.URL, be, toks, true, func(c int) int { return c })
}

// TestProxyOverTLSEngine runs the table through a proxy that reaches the engine over HTTPS with
// its own CA, as the chart's replicated engine is served (docs/gateway.md): the answers are the
// same. A proxy that does not trust that CA fails closed: nothing reaches the backend.
func TestProxyOverTLSEngine(t *testing.T) {
	inst := tokenenginetest.Start(t)
	toks := mintTokens(t, inst)
	engineURL, _ := url.Parse(inst.URL)
	tlsEngine := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(engineURL))
	t.Cleanup(tlsEngine.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsEngine.Certificate().Raw})
	client, err := gateway.NewEngineClient(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	be := testenv.NewRecorder(t)
	up, _ := url.Parse(be.URL)
	p, err := gateway.New(gateway.Config{Upstream: up, UpstreamToken: upstreamToken, EngineURL: tlsEngine.URL, EngineClient: client, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	runTable(t, srv.URL, be, toks, true, func(c int) int { return c })

	untrusting, err := gateway.New(gateway.Config{Upstream: up, UpstreamToken: upstreamToken, EngineURL: tlsEngine.URL, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(untrusting)
	t.Cleanup(srv2.Close)
	be.Take()
	req, _ := http.NewRequest(http.MethodPost, srv2.URL+"/api/v3/write_lp?db=a", strings.NewReader("m f=1"))
	req.Header.Set("Authorization", "Bearer "+toks["rw"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 500 {
		t.Errorf("a proxy that cannot verify the engine's certificate answered %d, want a 5xx", resp.StatusCode)
	}
	if got := be.Take(); len(got) != 0 {
		t.Errorf("the backend received %d requests through a proxy that could not verify the engine", len(got))
	}
}

// nginxBlock is the configuration between the gateway-test markers of docs/gateway.md.
func nginxBlock(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "gateway.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := between(string(b), "<!-- gateway-test:nginx-begin -->\n```nginx\n", "```\n<!-- gateway-test:nginx-end -->")
	if block == "" {
		t.Fatal("docs/gateway.md has no marked nginx block")
	}
	return block
}

// startNGINX runs nginx in the foreground with the docs' block, addresses substituted, and
// returns its address. The process is in its own process group, dies with the test process
// (Pdeathsig) and is killed at cleanup.
func startNGINX(t *testing.T, bin, backendAddr, engineAddr string) string {
	dir := t.TempDir()
	addr := testenv.FreeAddr(t)
	block := nginxBlock(t)
	for old, repl := range map[string]string{"influxdb3:8181": backendAddr, "token-engine.token-operator.svc:8181": engineAddr, "listen 8080;": "listen " + addr + ";"} {
		if strings.Count(block, old) != 1 {
			t.Fatalf("docs/gateway.md's nginx block should contain %q once", old)
		}
		block = strings.Replace(block, old, repl, 1)
	}
	conf := "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log warn;\n" +
		"events { worker_connections 64; }\nhttp {\naccess_log off;\n"
	for _, p := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		conf += p + "_temp_path " + dir + "/" + p + ";\n"
	}
	conf += block + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", dir+"/error.log", "-c", filepath.Join(dir, "nginx.conf"))
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	testenv.StartProc(t, cmd, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/error.log")
			t.Fatalf("nginx did not listen on %s: %s %s", addr, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
