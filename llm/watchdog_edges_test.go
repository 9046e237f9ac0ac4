package llm

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestEmptyReadIsNoFirstByte checks a Read that returns no byte (which an
// io.Reader may do, and a caller's own HTTPClient may pass on) does not end
// the wait for the first byte: the upstream still has sent nothing.
func TestEmptyReadIsNoFirstByte(t *testing.T) {
	var reqCtx context.Context
	body := &scriptedBody{reads: []func([]byte) (int, error){
		func([]byte) (int, error) { return 0, nil },
		func([]byte) (int, error) {
			<-reqCtx.Done()
			return 0, reqCtx.Err()
		},
	}}
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		reqCtx = r.Context()
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: body, Request: r}, nil
	})}
	const firstByte = 50 * time.Millisecond
	// Were the empty read taken for the first byte, the stall timeout
	// would end the read instead, with the other error.
	c := newTestClient(t, Options{BaseURL: "http://upstream.invalid/v1", HTTPClient: hc,
		FirstByteTimeout: firstByte, StallTimeout: 2 * time.Second})
	resp, err := c.ChatCompletions(bounded(t), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	checkTimeout(t, err, ErrFirstByteTimeout, "http://upstream.invalid/v1", firstByte)
}
