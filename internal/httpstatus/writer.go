// Package httpstatus has the ResponseWriter wrapper the engine and the gateway use to log and
// count the status they answered.
package httpstatus

import "net/http"

// Writer remembers the first status code written (200 when the body is written first).
type Writer struct {
	http.ResponseWriter
	Code int
}

// WriteHeader records code and passes it on.
func (s *Writer) WriteHeader(code int) {
	if s.Code == 0 {
		s.Code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records 200 if no status was written and passes b on.
func (s *Writer) Write(b []byte) (int, error) {
	if s.Code == 0 {
		s.Code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines of the wrapped writer.
func (s *Writer) Unwrap() http.ResponseWriter { return s.ResponseWriter }
