package influxaccess

import "fmt"

// Error is a request that cannot be mapped; the answer is 400 with Error() as the message.
// Messages name parameters and InfluxDB paths, never values from the request.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func errorf(format string, args ...any) *Error { return &Error{fmt.Sprintf(format, args...)} }
