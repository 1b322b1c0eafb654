package lifecycle

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	tokensv1 "github.com/tokenops/token-operator/api/v1alpha1"
)

// durationPart matches one number-unit pair of an API Duration; the CRD's CEL rule admits only
// sequences of these, so anything else is a value that bypassed admission.
var (
	durationShape = regexp.MustCompile(`^([0-9]{1,6}[smhdwy])+$`)
	durationPart  = regexp.MustCompile(`([0-9]{1,6})([smhdwy])`)
)

// durationUnits are the influxdb3 --expiry units; a year is 365.25 days, as in the CRD's CEL rule.
var durationUnits = map[string]time.Duration{
	"s": time.Second,
	"m": time.Minute,
	"h": time.Hour,
	"d": 24 * time.Hour,
	"w": 7 * 24 * time.Hour,
	"y": 31557600 * time.Second,
}

// ParseDuration converts an API Duration such as 30m, 7d, 1y or 1d12h to a time.Duration.
// An empty or nil duration is zero.
func ParseDuration(d *tokensv1.Duration) (time.Duration, error) {
	if d == nil || *d == "" {
		return 0, nil
	}
	s := string(*d)
	if !durationShape.MatchString(s) {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 12h, 7d or 1y", s)
	}
	var total time.Duration
	for _, m := range durationPart.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1]) // at most six digits: cannot fail or overflow
		total += time.Duration(n) * durationUnits[m[2]]
	}
	return total, nil
}
