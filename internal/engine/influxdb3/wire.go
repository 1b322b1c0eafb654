package influxdb3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// flexID is a token id sent as a JSON number (u64) or, by some servers, a string.
type flexID string

func (id *flexID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if s, err := strconv.Unquote(string(b)); err == nil {
		*id = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("token id: %w", err)
	}
	*id = flexID(n.String())
	return nil
}

// timestamp is a time in whichever form the server uses: RFC 3339 in the create response;
// epoch milliseconds or an Arrow timestamp string (often without a zone, meaning UTC) in
// system.tokens rows. null and absent leave it zero.
type timestamp struct{ t time.Time }

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func (ts *timestamp) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if s, err := strconv.Unquote(string(b)); err == nil {
		if s == "" {
			return nil
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			ts.t = fromEpoch(n)
			return nil
		}
		for _, l := range timestampLayouts {
			if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
				ts.t = t.UTC()
				return nil
			}
		}
		return fmt.Errorf("unrecognised timestamp %q", s)
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	i, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		i = int64(f)
	}
	ts.t = fromEpoch(i)
	return nil
}

// fromEpoch reads epoch milliseconds, the unit system.tokens uses; values too large for
// milliseconds in this millennium are taken as micro- or nanoseconds.
func fromEpoch(n int64) time.Time {
	switch {
	case n > 1e17:
		return time.Unix(0, n).UTC()
	case n > 1e14:
		return time.UnixMicro(n).UTC()
	default:
		return time.UnixMilli(n).UTC()
	}
}

func (ts timestamp) ptr() *time.Time {
	if ts.t.IsZero() {
		return nil
	}
	t := ts.t
	return &t
}

func (ts timestamp) orNow() time.Time {
	if ts.t.IsZero() {
		return time.Now().UTC()
	}
	return ts.t
}
