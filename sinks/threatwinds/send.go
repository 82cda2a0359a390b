package threatwinds

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/iocpipe/iocpipe/pipeline/ioc"
	"github.com/iocpipe/iocpipe/sinks"
)

// Send implements pipeline.Sink. It posts one request per item of b — an
// entity, a well-known entity or a scan, by Config.Kind — or, for a batch
// of associations, one POST /association per association, within the
// Client's in-flight limit. Items that cannot be sent (a type ThreatWinds
// lacks, a value it refuses, like a private IP) and items the API refuses
// (400) are in Result.Rejects; items whose retries ran out are in
// Result.Failed. A 401 or 403 stops the batch: Send returns an error
// wrapping ioc.ErrFatal that names the status, the API's message
// and its error id. When ctx ends first, Send returns ctx's error.
func (c *Client) Send(ctx context.Context, b *ioc.Batch) (ioc.Result, error) {
	if len(b.Items) > 0 && len(b.Associations) > 0 {
		return ioc.Result{}, fmt.Errorf("threatwinds: batch %d mixes %d indicators and %d associations; associations go in batches of their own",
			b.Seq, len(b.Items), len(b.Associations))
	}
	n, plan, handle := len(b.Items), c.set.planItem, c.item
	if n == 0 {
		n, plan, handle = len(b.Associations), c.set.planAssociation, c.association
	}
	r := &run{c: c}
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	if c.set.kind == KindScan {
		r.ids = make([]string, n)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, c.cfg.InFlight) {
		wg.Go(func() {
			for r.ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o := plan(b, i)
				if o.reject != "" {
					r.reject(i, o.reject, nil)
					continue
				}
				handle(r, &o)
			}
		})
	}
	wg.Wait()
	return r.result(ctx, n)
}

// run is the state of one Send: the Result being built and the first
// fatal error, which cancels ctx.
type run struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	res     ioc.Result
	ids     []string // scan task ids by item index
	fatal   error
	handled int // items with an outcome
}

// add counts an outcome in Extra.
func (r *run) add(key string) {
	r.mu.Lock()
	r.addLocked(key)
	r.mu.Unlock()
}

func (r *run) addLocked(key string) {
	if r.res.Extra == nil {
		r.res.Extra = map[string]int64{}
	}
	r.res.Extra[key]++
}

// delivered records item i as delivered, counting key; request says
// whether a request carrying it was accepted.
func (r *run) delivered(i int, key string, request bool, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handled++
	r.addLocked(key)
	if request {
		r.res.Requests++
	}
	if id != "" {
		r.ids[i] = id
	}
}

// reject records item i as refused for good.
func (r *run) reject(i int, reason string, he *sinks.HTTPError) {
	ir := ioc.ItemReject{Index: i, Reason: reason}
	if he != nil {
		ir.Status, ir.ErrorID = he.Status, he.ErrorID
	}
	r.c.log.Debug("threatwinds: item refused", "index", i, "reason", reason, "status", ir.Status, "error_id", ir.ErrorID)
	r.mu.Lock()
	r.handled++
	r.res.Rejects = append(r.res.Rejects, ir)
	r.mu.Unlock()
}

// fail records the failure of item i's request: a refusal (non-retryable
// 4xx), a failure (retries ran out), or a fatal error that stops the
// batch. An error caused by the batch stopping is not recorded.
func (r *run) fail(i int, err error) {
	if ferr := r.c.fatal(err); ferr != nil {
		r.mu.Lock()
		if r.fatal == nil {
			r.fatal = ferr
		}
		r.mu.Unlock()
		r.cancel()
		return
	}
	if stopped(r.ctx, err) {
		return
	}
	var he *sinks.HTTPError
	if errors.As(err, &he) && he.Status >= 400 && he.Status < 500 && !sinks.Retryable(he.Status) {
		r.reject(i, fmt.Sprintf("refused by ThreatWinds (%d): %s", he.Status, he.Message), he)
		return
	}
	ir := ioc.ItemReject{Index: i, Reason: err.Error()}
	if he != nil {
		ir.Status, ir.ErrorID = he.Status, he.ErrorID
	}
	r.c.log.Warn("threatwinds: item not delivered", "index", i, "error", err)
	r.mu.Lock()
	r.handled++
	r.res.Failed = append(r.res.Failed, ir)
	r.mu.Unlock()
}

// stopped reports whether err is ctx ending.
func stopped(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// result returns the Result, and the error that stopped the batch: the
// fatal one, else ctx's when items were left without an outcome.
func (r *run) result(parent context.Context, n int) (ioc.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byIndex := func(a, b ioc.ItemReject) int { return cmp.Compare(a.Index, b.Index) }
	slices.SortFunc(r.res.Rejects, byIndex)
	slices.SortFunc(r.res.Failed, byIndex)
	for _, id := range r.ids {
		if id != "" {
			r.res.IDs = append(r.res.IDs, id)
		}
	}
	if r.fatal != nil {
		return r.res, r.fatal
	}
	if err := parent.Err(); err != nil && r.handled < n {
		return r.res, err
	}
	return r.res, nil
}

// item sends one planned indicator.
func (c *Client) item(r *run, o *op) {
	switch o.path {
	case "/entity":
		c.entity(r, o)
	case "/scan":
		c.scan(r, o)
	default:
		if _, _, err := c.do(r.ctx, http.MethodPost, o.path, o.body); err != nil {
			r.fail(o.index, err)
			return
		}
		r.delivered(o.index, "well_known", true, "")
	}
}

// entity posts an entity unless the same body was acknowledged before (or
// waits for the request in flight that posts it), then its comment.
func (c *Client) entity(r *run, o *op) {
	done, dup, err := c.claim(r.ctx, o.ent.key, o.sum)
	if err != nil {
		return // stopped
	}
	if dup {
		r.delivered(o.index, "entities_deduplicated", false, "")
	} else {
		_, _, err := c.do(r.ctx, http.MethodPost, o.path, o.body)
		c.settle(o.ent.key, o.sum, done, err == nil)
		if err != nil {
			r.fail(o.index, err)
			return
		}
		r.delivered(o.index, "entities", true, "")
	}
	if o.comment != nil {
		c.comment(r, o)
	}
}

// claim returns dup true when the entity was acknowledged with the body
// whose hash is sum, waiting for the request in flight for the entity if
// there is one. Otherwise the caller owns the entity's request and must
// call settle with the returned channel.
func (c *Client) claim(ctx context.Context, key entityKey, sum uint64) (chan struct{}, bool, error) {
	for {
		c.mu.Lock()
		if acked, ok := c.acked.get(key); ok && acked == sum {
			c.mu.Unlock()
			return nil, true, nil
		}
		wait, busy := c.flight[key]
		if !busy {
			done := make(chan struct{})
			c.flight[key] = done
			c.mu.Unlock()
			return done, false, nil
		}
		c.mu.Unlock()
		select {
		case <-wait:
			// Acknowledged, or failed: look again, and post it ourselves
			// if it failed or posted another body.
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// settle ends the flight of an entity's request, which posted the body
// whose hash is sum.
func (c *Client) settle(key entityKey, sum uint64, done chan struct{}, ok bool) {
	c.mu.Lock()
	delete(c.flight, key)
	if ok {
		c.acked.put(key, sum)
	}
	c.mu.Unlock()
	close(done)
}

// comment posts an indicator's notes on its acknowledged entity, once per
// entity and text among the Config.Remember comments remembered. A
// failure is logged and counted; the indicator stays delivered.
func (c *Client) comment(r *run, o *op) {
	c.mu.Lock()
	if _, ok := c.commented.get(o.commentKey); ok {
		c.mu.Unlock()
		r.add("comments_deduplicated")
		return
	}
	c.commented.put(o.commentKey, struct{}{})
	c.mu.Unlock()
	_, _, err := c.do(r.ctx, http.MethodPost, "/comment", o.comment)
	if err == nil {
		r.add("comments")
		return
	}
	c.mu.Lock()
	c.commented.del(o.commentKey)
	c.mu.Unlock()
	if stopped(r.ctx, err) {
		return
	}
	r.add("comments_failed")
	c.log.Warn("threatwinds: comment not posted", "entity", o.ent.id, "error", err)
}

// scanAnswer is the answer of POST /scan.
type scanAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// scan schedules a scan: 202 is a new task, 200 an existing one.
func (c *Client) scan(r *run, o *op) {
	resp, body, err := c.do(r.ctx, http.MethodPost, o.path, o.body)
	if err != nil {
		r.fail(o.index, err)
		return
	}
	var a scanAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
		c.log.Warn("threatwinds: scan accepted without a task id", "status", resp.StatusCode, "answer", sinks.Excerpt(sinks.Scrub(body, secretsOf(c.cfg))))
	}
	key := "scans_new"
	if resp.StatusCode == http.StatusOK {
		key = "scans_existing"
	}
	r.delivered(o.index, key, true, a.ID)
}

// association posts one association.
func (c *Client) association(r *run, o *op) {
	if _, _, err := c.do(r.ctx, http.MethodPost, o.path, o.body); err != nil {
		r.fail(o.index, err)
		return
	}
	r.delivered(o.index, "associations", true, "")
}
