package tokenenginetest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenops/token-operator/internal/tokenengine/tokenenginetest"
)

func TestStartServesAndRestartKeepsURL(t *testing.T) {
	inst := tokenenginetest.Start(t)
	create := func() int {
		req, _ := http.NewRequest(http.MethodPost, inst.URL+"/api/v3/enterprise/configure/token",
			strings.NewReader(`{"token_name":"t","permissions":[{"resource_type":"db","resource_names":["a"],"actions":["read"]}]}`))
		req.Header.Set("Authorization", "Bearer "+inst.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := create(); got != http.StatusCreated {
		t.Fatalf("create: got %d, want 201", got)
	}
	inst.Restart()
	if got := create(); got != http.StatusConflict {
		t.Fatalf("create after restart: got %d, want 409 (the token must have survived)", got)
	}
}
