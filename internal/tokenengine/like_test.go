package tokenengine

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// likeReference is the straightforward recursive LIKE the bounded matcher replaced, kept as the
// oracle for small inputs.
func likeReference(pattern, s string) bool {
	pr, sr := []rune(pattern), []rune(s)
	var match func(pi, si int) bool
	match = func(pi, si int) bool {
		switch {
		case pi == len(pr):
			return si == len(sr)
		case pr[pi] == '%':
			return match(pi+1, si) || (si < len(sr) && match(pi, si+1))
		case pr[pi] == '_':
			return si < len(sr) && match(pi+1, si+1)
		case pr[pi] == '\\' && pi+1 < len(pr):
			return si < len(sr) && sr[si] == pr[pi+1] && match(pi+2, si+1)
		default:
			return si < len(sr) && sr[si] == pr[pi] && match(pi+1, si+1)
		}
	}
	return match(0, 0)
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"%", "", true}, {"%", "abc", true}, {"", "", true}, {"", "a", false},
		{"k8s.%", "k8s.ns.name", true}, {"k8s.%", "k8s", false},
		{"a_c", "abc", true}, {"a_c", "ac", false}, {"%b%", "abc", true},
		{"a%%c", "abbbc", true}, {`a\%c`, "a%c", true}, {`a\%c`, "abc", false},
		{`a\_`, "a_", true}, {`a\_`, "ab", false}, {`a\`, `a\`, true},
		{"%a%b%c", "xxaxxbxxc", true}, {"%a%b%c", "xxaxxcxxb", false},
		{"é_", "éx", true},
	}
	for _, tt := range tests {
		if got := likeMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("likeMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune(`ab%_\`)
	for range 20000 {
		p := make([]rune, rng.IntN(8))
		for i := range p {
			p[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := make([]rune, rng.IntN(8))
		for i := range s {
			s[i] = alphabet[rng.IntN(2)]
		}
		if got, want := likeMatch(string(p), string(s)), likeReference(string(p), string(s)); got != want {
			t.Fatalf("likeMatch(%q, %q) = %v, reference %v", string(p), string(s), got, want)
		}
	}
}

// A crafted pattern against a long value must not allocate in proportion to their product (the
// old matcher memoised every pattern × value position: gigabytes for long values).
func TestLikeMatchMemoryIsBounded(t *testing.T) {
	pattern := strings.Repeat("%a", maxLiteralBytes/2) // the longest literal the parser accepts
	value := strings.Repeat("a", 4096) + "b"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if likeMatch(pattern+"c", value) {
		t.Fatal("matched")
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("likeMatch allocated %d bytes for a %d-byte pattern and a %d-byte value; want under 1 MiB", got, len(pattern), len(value))
	}
}
