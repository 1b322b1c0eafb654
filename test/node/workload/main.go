// Command workload is the test node's application (docs/node.md): it reads the token and the
// engine's URL from the mounted Secret, as a user's workload does, and asks the engine through
// its Service whether the token may read a database, twice a second. It prints one line when
// what it holds or what the engine answers changes, and one per refusal; a token is named by
// the first 12 hex digits of its SHA-256, never printed itself.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("secret-dir", "/var/run/token", "where the token Secret is mounted (keys token and url)")
	db := flag.String("database", "", "the database to ask read access for")
	interval := flag.Duration("interval", 500*time.Millisecond, "how often to check")
	flag.Parse()
	hc := &http.Client{Timeout: 5 * time.Second}
	var last string
	for ; ; time.Sleep(*interval) {
		line := check(hc, *dir, *db)
		// "ok" lines repeat while nothing changes; anything else is printed every time.
		if line != last || !strings.HasPrefix(line, "ok ") {
			fmt.Printf("%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
		}
		last = line
	}
}

// check returns "ok fp=<fp>", "refused fp=<fp> status=<code>" or "error <what>".
func check(hc *http.Client, dir, db string) string {
	tok, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		return "error reading token: " + err.Error()
	}
	base, err := os.ReadFile(filepath.Join(dir, "url"))
	if err != nil {
		return "error reading url: " + err.Error()
	}
	sum := sha256.Sum256(tok)
	fp := hex.EncodeToString(sum[:6])
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(strings.TrimSpace(string(base)), "/")+
		"/api/v3/authorize?db="+url.QueryEscape(db)+"&action=read", nil)
	if err != nil {
		return "error " + err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Sprintf("error fp=%s %v", fp, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Sprintf("refused fp=%s status=%d", fp, resp.StatusCode)
	}
	return "ok fp=" + fp
}
