package tokenengine

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// record is a token as stored: metadata and the digest, never the plaintext.
type Record struct {
	ID          uint64       `json:"id"`
	Name        string       `json:"name"`
	Digest      Digest       `json:"-"`
	Admin       bool         `json:"admin,omitempty"`
	Permissions []Permission `json:"permissions,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	// Expiry nil means never.
	Expiry           *time.Time `json:"expiry,omitempty"`
	CreatedByTokenID *uint64    `json:"created_by_token_id,omitempty"`
	UpdatedAt        *time.Time `json:"updated_at,omitempty"`
	UpdatedByTokenID *uint64    `json:"updated_by_token_id,omitempty"`
}

// recordJSON adds the hex digest, because digest is an array JSON would spell as 64 numbers.
type recordJSON struct {
	Record
	DigestHex string `json:"sha512"`
}

func (r *Record) marshal() ([]byte, error) {
	return json.Marshal(recordJSON{Record: *r, DigestHex: r.Digest.Hex()})
}

func unmarshalRecord(b []byte) (*Record, error) {
	var rj recordJSON
	if err := json.Unmarshal(b, &rj); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(rj.DigestHex)
	if err != nil || len(raw) != len(rj.Digest) {
		return nil, fmt.Errorf("token %d has a malformed digest", rj.ID)
	}
	r := rj.Record
	copy(r.Digest[:], raw)
	return &r, nil
}

// live reports whether the token is valid at now: expiry is exclusive, as on InfluxDB 3.
func (r *Record) live(now time.Time) bool {
	return r.Expiry == nil || r.Expiry.After(now)
}

// allows reports whether the token grants action on the resource; admin tokens grant everything.
func (r *Record) allows(rt, name, action string) bool {
	if r.Admin {
		return true
	}
	for i := range r.Permissions {
		if r.Permissions[i].allows(rt, name, action) {
			return true
		}
	}
	return false
}
