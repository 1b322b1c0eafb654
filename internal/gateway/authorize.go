package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tokenops/token-operator/internal/influxaccess"
)

// answer is the engine's verdict: 200, or the status and JSON error to send the client.
type answer struct {
	code int
	body []byte
}

// checkRequest is the engine's POST /api/v3/authorize/check body (tokenengine.CheckRequest).
type checkRequest struct {
	Admin       bool              `json:"admin,omitempty"`
	Permissions []checkPermission `json:"permissions,omitempty"`
}

type checkPermission struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	Action       string `json:"action"`
}

// authorize asks the engine (or the cache) whether tok grants need.
func (p *Proxy) authorize(r *http.Request, tok string, need influxaccess.Need) answer {
	c := checkRequest{Admin: need.Admin || need.Hidden != ""}
	for _, perm := range need.Permissions {
		c.Permissions = append(c.Permissions, checkPermission{perm.ResourceType, perm.Name, perm.Action})
	}
	body, _ := json.Marshal(c)
	key := cacheKey(tok, body)
	if a, ok := p.cache.get(key); ok {
		return a
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.cfg.EngineURL+pathCheck, bytes.NewReader(body))
	if err != nil {
		return errorAnswer(http.StatusBadGateway, "the gateway could not ask the token engine")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.engine.Do(req)
	if err != nil {
		return errorAnswer(http.StatusBadGateway, "the token engine did not answer")
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var a answer
	switch resp.StatusCode {
	case http.StatusOK:
		a = answer{code: http.StatusOK}
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest:
		a = answer{resp.StatusCode, msg}
	default:
		return errorAnswer(http.StatusBadGateway, "the token engine answered with an unexpected status")
	}
	if a.code != http.StatusBadRequest {
		p.cache.put(key, a)
	}
	return a
}

func errorAnswer(code int, msg string) answer {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return answer{code, b}
}

// cacheKey identifies a token and a need without keeping the token: a SHA-256 of both.
func cacheKey(tok string, need []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(tok))
	h.Write([]byte{0})
	h.Write(need)
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}

// answerCache keeps engine answers for ttl, at most size of them; when full it starts over, so
// memory stays bounded and no answer outlives ttl.
type answerCache struct {
	ttl  time.Duration
	size int
	mu   sync.Mutex
	m    map[[sha256.Size]byte]cached
	now  func() time.Time
}

type cached struct {
	a       answer
	expires time.Time
}

func newAnswerCache(ttl time.Duration, size int) *answerCache {
	return &answerCache{ttl: ttl, size: size, m: map[[sha256.Size]byte]cached{}, now: time.Now}
}

func (c *answerCache) get(k [sha256.Size]byte) (answer, bool) {
	if c.ttl <= 0 {
		return answer{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !c.now().Before(e.expires) {
		return answer{}, false
	}
	return e.a, true
}

func (c *answerCache) put(k [sha256.Size]byte, a answer) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.size {
		clear(c.m)
	}
	c.m[k] = cached{a, c.now().Add(c.ttl)}
}
