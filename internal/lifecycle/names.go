package lifecycle

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// TokenName is the deterministic engine-side name of a resource's revision-th mint (docs/design.md §3):
// k8s.<namespace>.<name>.<uid[:8]>.r<revision>. The UID prefix keeps a re-created resource of
// the same name from colliding with tokens its predecessor may have left behind.
func TokenName(namespace, name string, uid types.UID, revision int64) string {
	return fmt.Sprintf("%sr%d", TokenNamePrefix(namespace, name, uid), revision)
}

// TokenNamePrefix is the part of TokenName shared by every revision of one resource, for
// engine.List when comparing the engine with status.
func TokenNamePrefix(namespace, name string, uid types.UID) string {
	u := string(uid)
	if len(u) > 8 {
		u = u[:8]
	}
	return fmt.Sprintf("k8s.%s.%s.%s.", namespace, name, u)
}

// OwnsTokenName reports whether name is one of this resource's engine-side names: its own prefix
// followed by r<revision>. Names to revoke come from status, which whoever may patch status
// controls; only names this check accepts are ever revoked (docs/security.md).
func OwnsTokenName(namespace, name string, uid types.UID, tokenName string) bool {
	rest, ok := strings.CutPrefix(tokenName, TokenNamePrefix(namespace, name, uid))
	if !ok || len(rest) < 2 || rest[0] != 'r' {
		return false
	}
	for _, c := range rest[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fingerprintKeyPrefix versions the fingerprint key derivation.
const fingerprintKeyPrefix = "token-operator/fingerprint/v1/"

// Fingerprint is the keyed hash recorded in status.current.fingerprint: hex HMAC-SHA256 of the
// token, keyed with the owning resource's UID.
//
// Why the UID and not a manager-level key: the fingerprint only has to tell "the Secret still
// holds the token we minted" across manager restarts and replicas. Tokens carry 512 random bits,
// so no key is needed to stop guessing; the per-resource key stops anyone from matching a token
// seen elsewhere against the fingerprints of every resource, and it needs no key distribution or
// rotation (rotating a manager key would make every Secret look changed by hand and re-mint the
// whole fleet at once).
func Fingerprint(uid types.UID, token []byte) string {
	mac := hmac.New(sha256.New, []byte(fingerprintKeyPrefix+string(uid)))
	mac.Write(token)
	return hex.EncodeToString(mac.Sum(nil))
}
