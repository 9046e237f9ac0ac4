package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// target is one server the load generator sends chat requests to: the mock
// upstream directly, the proxy, or a bridge.
type target struct {
	name string
	url  string // the chat-completions URL
	// pid is the process to measure (CPU, RSS); 0 for the mock upstream,
	// which shares this process with the load generator.
	pid int
	hc  *http.Client
}

// newTarget returns a target for the API base URL (ending in /v1) with its
// own connection pool.
func newTarget(name, base string, pid int) *target {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: 2048,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{name: name, url: base + "/chat/completions", pid: pid, hc: &http.Client{Transport: tr}}
}

// close drops the target's idle connections.
func (t *target) close() { t.hc.CloseIdleConnections() }

// request is what one closed-loop iteration sends.
type request struct {
	body []byte
	// body2, when set, is sent after the answer to body has been read: the
	// second round of a tool round done by hand, without the bridge.
	body2  []byte
	stream bool
	// chunks is the number of content chunks the whole answer must have;
	// 0 skips the check.
	chunks int
}

// sample is one measured iteration.
type sample struct {
	total  time.Duration // until the answer was read to its end
	ttfb   time.Duration // until the first byte of the first answer's body
	chunks int           // content chunks received
}

// send runs one iteration of rq. br is the worker's read buffer.
func (t *target) send(ctx context.Context, rq *request, br *bufio.Reader) (sample, error) {
	start := time.Now()
	s, err := t.one(ctx, rq.body, rq.stream, br, start)
	if err != nil {
		return s, err
	}
	if rq.body2 != nil {
		s2, err := t.one(ctx, rq.body2, rq.stream, br, start)
		if err != nil {
			return s, err
		}
		s.chunks += s2.chunks
	}
	s.total = time.Since(start)
	if rq.chunks > 0 && s.chunks != rq.chunks {
		return s, fmt.Errorf("got %d content chunks, want %d", s.chunks, rq.chunks)
	}
	return s, nil
}

var contentKey = []byte(`"content":"`)

// errStream is a stream that did not end as it should.
var errStream = errors.New("stream ended without [DONE]")

// one sends one request and reads its answer.
func (t *target) one(ctx context.Context, body []byte, stream bool, br *bufio.Reader, start time.Time) (sample, error) {
	var s sample
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return s, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return s, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	br.Reset(resp.Body)
	if !stream {
		if _, err := br.Peek(1); err != nil {
			return s, fmt.Errorf("reading answer: %w", err)
		}
		s.ttfb = time.Since(start)
		n, err := io.Copy(io.Discard, br)
		if err != nil {
			return s, fmt.Errorf("reading answer: %w", err)
		}
		if n < 10 {
			return s, fmt.Errorf("answer of %d bytes", n+1)
		}
		return s, nil
	}
	done := false
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if first {
			s.ttfb = time.Since(start)
		}
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: no chunk here is that long
			// but an error could be; skip the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return s, fmt.Errorf("reading stream after %d content chunks: %w", s.chunks, err)
		}
		if rest, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			switch {
			case bytes.HasPrefix(rest, []byte("[DONE]")):
				done = true
			case bytes.Contains(rest, contentKey):
				s.chunks++
			case bytes.HasPrefix(rest, []byte(`{"error"`)):
				return s, fmt.Errorf("error event: %s", bytes.TrimSpace(rest))
			}
		}
		if err == io.EOF {
			break
		}
	}
	if !done {
		return s, errStream
	}
	return s, nil
}

// loadResult is one closed-loop run against one target.
type loadResult struct {
	ok, errs int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // sorted
	ttfb     []time.Duration // sorted
	chunks   int64
	// cpu is the CPU time the target's process used during the run (0
	// when the target has no process of its own).
	cpu time.Duration
}

func (r *loadResult) throughput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// runLoad runs conc workers that each send rq again and again for dur,
// after a warm-up of warm whose results are dropped.
func runLoad(ctx context.Context, t *target, rq *request, conc int, dur, warm time.Duration) loadResult {
	if warm > 0 {
		_ = closedLoop(ctx, t, rq, conc, warm)
	}
	var cpu0 time.Duration
	if t.pid > 0 {
		cpu0, _ = procCPU(t.pid)
	}
	r := closedLoop(ctx, t, rq, conc, dur)
	if t.pid > 0 {
		cpu1, _ := procCPU(t.pid)
		r.cpu = cpu1 - cpu0
	}
	return r
}

func closedLoop(ctx context.Context, t *target, rq *request, conc int, dur time.Duration) loadResult {
	type worker struct {
		lat, ttfb []time.Duration
		chunks    int64
		errs      int
		firstErr  error
	}
	workers := make([]worker, conc)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			br := bufio.NewReaderSize(nil, 32<<10)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				s, err := t.send(rctx, rq, br)
				cancel()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					// Do not spin on a target that refuses everything.
					time.Sleep(time.Millisecond)
					continue
				}
				w.lat = append(w.lat, s.total)
				w.ttfb = append(w.ttfb, s.ttfb)
				w.chunks += int64(s.chunks)
			}
		}(&workers[i])
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start)}
	for _, w := range workers {
		r.lat = append(r.lat, w.lat...)
		r.ttfb = append(r.ttfb, w.ttfb...)
		r.chunks += w.chunks
		r.errs += w.errs
		if r.firstErr == nil {
			r.firstErr = w.firstErr
		}
	}
	r.ok = len(r.lat)
	sortDurations(r.lat)
	sortDurations(r.ttfb)
	return r
}

// holdResult is n streams held open against one target at once.
type holdResult struct {
	target   string
	n        int
	errs     int
	firstErr string
	// open is the time from the first request until every stream had its
	// first chunk; ttfb the first-chunk times of the streams (sorted).
	open time.Duration
	ttfb []time.Duration
	// lags are the delays between the upstream sending a chunk and the
	// client reading it, for chunks sent once every stream was open
	// (sorted).
	lags []time.Duration
	// RSS of the target's process before the streams, and the median and
	// largest of the samples taken while every stream was open. 0 when
	// the target has no process of its own.
	rssBase, rssMed, rssPeak int64
	// cpu is the process's CPU time per second while every stream was open.
	cpuShare time.Duration
}

// holdStreams opens n streams against each target at once, every stream
// receiving a chunk per interval for hold, and measures each target while
// they are all open. Streams that fail count as errors. then, when not nil,
// is called once every stream is open, before the measurements.
func holdStreams(ctx context.Context, targets []*target, n int, interval, hold time.Duration, then func()) []holdResult {
	body := []byte(`{"model":"` + holdModel(interval, hold) + `","messages":[{"role":"user","content":"Tell me a long story."}],"stream":true}`)
	results := make([]holdResult, len(targets))
	var measureFrom atomic.Int64 // Unix ns; chunks sent before are not measured
	measureFrom.Store(1 << 62)
	var anyEnded atomic.Bool
	var opened sync.WaitGroup
	var wg sync.WaitGroup
	type streamOut struct {
		ttfb time.Duration
		lags []time.Duration
		err  error
	}
	outs := make([][]streamOut, len(targets))
	for i, t := range targets {
		results[i] = holdResult{target: t.name, n: n}
		if t.pid > 0 {
			results[i].rssBase, _ = procRSS(t.pid)
		}
		outs[i] = make([]streamOut, n)
	}
	start := time.Now()
	for i, t := range targets {
		for j := range n {
			opened.Add(1)
			wg.Add(1)
			go func(o *streamOut) {
				defer wg.Done()
				var once sync.Once
				markOpen := func() { once.Do(opened.Done) }
				defer markOpen()
				o.ttfb, o.lags, o.err = holdOne(ctx, t, body, hold+time.Minute, markOpen, &measureFrom)
				if o.err == nil {
					anyEnded.Store(true)
				}
			}(&outs[i][j])
		}
	}
	opened.Wait()
	allOpen := time.Now()
	measureFrom.Store(allOpen.UnixNano())
	if then != nil {
		then()
	}

	// Sample every process while every stream is open.
	rss := make([][]int64, len(targets))
	cpu0 := make([]time.Duration, len(targets))
	for i, t := range targets {
		if t.pid > 0 {
			cpu0[i], _ = procCPU(t.pid)
		}
	}
	tick := time.NewTicker(500 * time.Millisecond)
	end := start.Add(hold)
	for !anyEnded.Load() && ctx.Err() == nil && time.Now().Before(end) {
		for i, t := range targets {
			if t.pid > 0 {
				if v, err := procRSS(t.pid); err == nil {
					rss[i] = append(rss[i], v)
				}
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	window := time.Since(allOpen)
	for i, t := range targets {
		if t.pid > 0 && window > 0 {
			c, _ := procCPU(t.pid)
			results[i].cpuShare = time.Duration(float64(c-cpu0[i]) / window.Seconds())
		}
	}
	wg.Wait()
	for i := range targets {
		r := &results[i]
		r.open = allOpen.Sub(start)
		for _, o := range outs[i] {
			if o.err != nil {
				r.errs++
				if r.firstErr == "" {
					r.firstErr = o.err.Error()
				}
				continue
			}
			r.ttfb = append(r.ttfb, o.ttfb)
			r.lags = append(r.lags, o.lags...)
		}
		sortDurations(r.ttfb)
		sortDurations(r.lags)
		if len(rss[i]) > 0 {
			r.rssMed = medianInt(rss[i])
			r.rssPeak = maxInt(rss[i])
		}
	}
	return results
}

// holdOne reads one held stream, recording the lag of every chunk sent
// after measureFrom.
func holdOne(ctx context.Context, t *target, body []byte, timeout time.Duration, opened func(), measureFrom *atomic.Int64) (ttfb time.Duration, lags []time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	done, chunks := false, 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				break
			}
			return ttfb, lags, fmt.Errorf("reading stream after %d chunks: %w", chunks, err)
		}
		rest, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		if bytes.HasPrefix(rest, []byte("[DONE]")) {
			done = true
			continue
		}
		i := bytes.Index(rest, contentKey)
		if i < 0 {
			continue
		}
		now := time.Now()
		chunks++
		if chunks == 1 {
			ttfb = now.Sub(start)
			opened()
		}
		digits := rest[i+len(contentKey):]
		if j := bytes.IndexByte(digits, '"'); j > 0 {
			if sent, err := strconv.ParseInt(string(digits[:j]), 10, 64); err == nil && sent >= measureFrom.Load() {
				lags = append(lags, now.Sub(time.Unix(0, sent)))
			}
		}
	}
	if !done {
		return ttfb, lags, fmt.Errorf("after %d chunks: %w", chunks, errStream)
	}
	if chunks == 0 {
		return ttfb, lags, errors.New("no chunks")
	}
	return ttfb, lags, nil
}
