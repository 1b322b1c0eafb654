package httpapi

import (
	"bytes"
	"encoding/json"
	"time"
)

// Timestamp is an RFC 3339 time in an engine's JSON answer (InfluxDB 2.x, Cloud Dedicated);
// null, "" and an absent field leave it zero.
type Timestamp struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// Ptr returns the time, or nil when it is zero.
func (t Timestamp) Ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// OrNow returns the time, or the current time when it is zero.
func (t Timestamp) OrNow() time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.Time
}
