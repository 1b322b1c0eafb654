// Package defaults fills in the configuration fields whose zero value means "the default".
package defaults

// Positive returns v when it is positive and def otherwise: a duration, count or size left at
// zero (or set negative, which no such field can mean) takes its documented default.
func Positive[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
