package bridge

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// bodyDeadline bounds the reading of a request's body to
// Options.BodyReadTimeout from the end of its headers. The deadline is
// lifted as soon as the body has been read, so that a streamed answer is
// not cut by it, and it stays in force when a handler leaves the body
// unread, so that the server's own draining of it is bounded too.
func (s *Server) bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
			return next(c)
		}
		rc := http.NewResponseController(c.Response())
		if rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout)) != nil {
			return next(c) // not a real connection (a test recorder)
		}
		req.Body = &deadlineBody{ReadCloser: req.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		return next(c)
	}
}

// deadlineBody lifts the read deadline once its body has been read whole.
type deadlineBody struct {
	io.ReadCloser
	once sync.Once
	lift func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.lift)
	}
	return n, err
}

// readBody reads the request body, mapping the body limit and the read
// timeout to clear errors.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &apiError{Status: http.StatusRequestTimeout, Type: "invalid_request_error", Code: "request_timeout",
				Message: "the request body was not received within the body read timeout (limits.body_read_timeout)"}
		}
		return nil, invalidRequest("", "reading request body: "+err.Error())
	}
	return data, nil
}
