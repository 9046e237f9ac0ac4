package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// probeTimeout bounds the startup check of the upstream.
const probeTimeout = 10 * time.Second

// probeUpstream asks the upstream for its models once and logs whether it
// answered, so that the first sign of an upstream that is down is a line
// in the log at startup rather than a client's failed chat. It only logs;
// serve goes on either way. secrets are removed from what it logs; note
// is added to a failure's line.
func probeUpstream(ctx context.Context, up *llm.Client, log *slog.Logger, secrets []string, note string) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	list, err := up.Models(pctx)
	switch {
	case err == nil:
		log.Info("upstream is answering", "upstream", up.BaseURL(), "models", len(list.Data))
	case ctx.Err() != nil:
		// serve is stopping: nobody needs the news.
	default:
		log.Warn(mcpclient.Redact(probeFailure(up.BaseURL(), err)+note, secrets))
	}
}

// probeFailure says, in a sentence, why the upstream at where did not
// list its models.
func probeFailure(where string, err error) string {
	var ue *llm.Error
	if errors.As(err, &ue) && ue.StatusCode != 0 {
		return fmt.Sprintf("upstream %s answered GET /models with HTTP %d: %s; chat requests may fail (check upstream.base_url and upstream.api_key)",
			where, ue.StatusCode, ue.Message)
	}
	cause := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		cause = fmt.Sprintf("no answer within %s", probeTimeout)
	case errors.Is(err, llm.ErrFirstByteTimeout), errors.Is(err, llm.ErrStallTimeout):
		cause = ue.Message
	case ue != nil && ue.Err != nil:
		cause = ue.Err.Error()
		var urlErr *url.Error
		if errors.As(ue.Err, &urlErr) {
			cause = urlErr.Err.Error() // the operation and URL are said already
		}
	}
	return fmt.Sprintf("upstream %s is not answering: %s; chat requests will fail until it is up", where, cause)
}
