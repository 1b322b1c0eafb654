package engine

import "fmt"

// Plaintext is a token or password in clear text. It formats as "[redacted]" with every fmt verb
// and marshals to JSON as "[redacted]", so a stray log line or error cannot leak it; Reveal is the
// one deliberate way to read it (to write a Secret or an Authorization header).
type Plaintext string

const redacted = "[redacted]"

// Reveal returns the clear text. Call it only where the value must leave the process.
func (p Plaintext) Reveal() string { return string(p) }

// String implements fmt.Stringer.
func (Plaintext) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Plaintext) GoString() string { return redacted }

// Format implements fmt.Formatter so that %s, %v, %q, %x and friends all redact.
func (Plaintext) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (Plaintext) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by structured loggers).
func (Plaintext) MarshalText() ([]byte, error) { return []byte(redacted), nil }
