package lifecycle

import (
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// ParseDuration converts an optional API Duration such as 30m, 7d, 1y or 1d12h to a
// time.Duration; nil or empty is zero. The parsing itself lives with the type (Duration.Parse).
func ParseDuration(d *tokensv1.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	return d.Parse()
}
