package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// RecordedRequest is a copy of one request a Client sent.
type RecordedRequest struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
	// Response is the engine's answer, nil when none came (a network error).
	Response *RecordedResponse
}

// RecordedResponse is a copy of the response to a RecordedRequest.
type RecordedResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// Recorder captures every request sent through the transport it wraps, and its response; tests
// set Config.WrapTransport to Recorder.Wrap. It holds credentials in the headers and bodies it
// records, so it is for tests only.
type Recorder struct {
	mu   sync.Mutex
	reqs []RecordedRequest
}

// Wrap returns a RoundTripper that records each request and then sends it with next.
func (r *Recorder) Wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		rec := RecordedRequest{Method: req.Method, URL: cloneURL(req.URL), Header: req.Header.Clone()}
		if req.Body != nil && req.Body != http.NoBody {
			body, err := io.ReadAll(req.Body)
			_ = req.Body.Close()
			if err != nil {
				return nil, err
			}
			rec.Body = body
			// A RoundTripper must not modify the caller's request: send a copy with a fresh body.
			req = req.Clone(req.Context())
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		r.mu.Lock()
		i := len(r.reqs)
		r.reqs = append(r.reqs, rec)
		r.mu.Unlock()
		resp, err := next.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.reqs[i].Response = &RecordedResponse{Status: resp.StatusCode, Header: resp.Header.Clone(), Body: body}
		r.mu.Unlock()
		return resp, nil
	})
}

// Requests returns the requests recorded so far, oldest first.
func (r *Recorder) Requests() []RecordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RecordedRequest(nil), r.reqs...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}
