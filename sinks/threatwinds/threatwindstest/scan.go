package threatwindstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Scan task states, in the order a task goes through them.
const (
	StatusNew     = "new"
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusDone    = "done"
)

// A Task is a scan task as the emulator keeps it.
type Task struct {
	// ID is the task id returned by POST /scan, a UUID.
	ID string `json:"id"`
	// Target is the normalised IP address or host name.
	Target string `json:"target"`
	// Status is StatusNew, StatusQueued, StatusRunning or StatusDone.
	Status string `json:"status"`
	// Webhook is the URL called when the task is done; empty when none.
	Webhook string `json:"webhook,omitempty"`
	// WebhookDelivered is set once the webhook answered with a 2xx status.
	WebhookDelivered bool `json:"webhook_delivered"`
}

type task struct {
	Task
	headers []headerBody
	timer   *time.Timer
}

type (
	scanBody struct {
		Target  string       `json:"target"`
		Webhook *webhookBody `json:"webhook"`
	}
	webhookBody struct {
		URL     string       `json:"url"`
		Headers []headerBody `json:"headers"`
	}
	headerBody struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	scanAnswer struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	webhookCall struct {
		ID     string `json:"id"`
		Target string `json:"target"`
		Status string `json:"status"`
	}
)

// Tasks returns the scan tasks in creation order.
func (e *Emulator) Tasks() []Task {
	e.taskMu.Lock()
	defer e.taskMu.Unlock()
	out := make([]Task, len(e.taskList))
	for i, t := range e.taskList {
		out[i] = t.Task
	}
	return out
}

// scanTarget normalises a scan target: a public IP address or an FQDN.
func scanTarget(s string) (string, error) {
	if net.ParseIP(s) != nil {
		return publicIP(s)
	}
	return fqdn(s)
}

// postScan: POST /scan.
func (e *Emulator) postScan(body []byte) (int, any, *apiError) {
	var b scanBody
	if err := decodeStrict(body, &b); err != nil {
		return 0, nil, err
	}
	target, err := scanTarget(b.Target)
	if err != nil {
		return 0, nil, badRequest("target must be a valid IP or FQDN: %v", err)
	}
	if b.Webhook != nil {
		u, err := url.Parse(b.Webhook.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return 0, nil, badRequest("webhook.url %q must be an absolute http or https URL", b.Webhook.URL)
		}
		for i, h := range b.Webhook.Headers {
			if h.Key == "" || strings.ContainsAny(h.Key, " \t\r\n:") || strings.ContainsAny(h.Value, "\r\n") {
				return 0, nil, badRequest("webhook.headers[%d]: invalid header %q", i, h.Key)
			}
		}
	}

	e.taskMu.Lock()
	defer e.taskMu.Unlock()
	if t, ok := e.tasks[target]; ok {
		e.scansExisting.Add(1)
		return http.StatusOK, scanAnswer{ID: t.ID, Status: t.Status}, nil
	}
	t := &task{Task: Task{ID: newUUID(), Target: target, Status: StatusNew}}
	if b.Webhook != nil {
		t.Webhook = b.Webhook.URL
		t.headers = b.Webhook.Headers
	}
	e.tasks[target] = t
	e.taskList = append(e.taskList, t)
	e.scheduleLocked(t)
	e.scans.Add(1)
	return http.StatusAccepted, scanAnswer{ID: t.ID, Status: t.Status}, nil
}

// scheduleLocked arms t's timer for its next step. Each armed timer holds
// one count of e.timers, released by the callback or by whoever stops the
// timer before it fires. The caller holds taskMu.
func (e *Emulator) scheduleLocked(t *task) {
	if e.closed {
		return
	}
	e.timers.Add(1)
	t.timer = time.AfterFunc(e.step, func() {
		defer e.timers.Done()
		e.advance(t)
	})
}

// stopTimersLocked stops every armed timer and aborts webhooks in flight.
// The caller holds taskMu.
func (e *Emulator) stopTimersLocked() {
	for _, t := range e.taskList {
		if t.timer != nil && t.timer.Stop() {
			e.timers.Done()
		}
		t.timer = nil
	}
	e.cancel()
}

// advance moves t to its next state, and calls its webhook once done.
func (e *Emulator) advance(t *task) {
	e.taskMu.Lock()
	if e.closed || e.tasks[t.Target] != t {
		e.taskMu.Unlock()
		return
	}
	switch t.Status {
	case StatusNew:
		t.Status = StatusQueued
	case StatusQueued:
		t.Status = StatusRunning
	default:
		t.Status = StatusDone
	}
	if t.Status != StatusDone {
		e.scheduleLocked(t)
		e.taskMu.Unlock()
		return
	}
	t.timer = nil
	ctx, call, hook, headers := e.ctx, webhookCall{ID: t.ID, Target: t.Target, Status: StatusDone}, t.Webhook, t.headers
	e.taskMu.Unlock()

	if hook == "" {
		return
	}
	if err := e.deliver(ctx, hook, headers, call); err != nil {
		if ctx.Err() != nil { // Reset or Close aborted the call
			return
		}
		e.log.Warn("scan webhook failed", "task", call.ID, "target", call.Target, "url", redact(hook), "err", err)
		return
	}
	e.taskMu.Lock()
	if e.tasks[t.Target] == t && ctx.Err() == nil {
		t.WebhookDelivered = true
		e.webhooks.Add(1)
	}
	e.taskMu.Unlock()
}

// deliver POSTs call to a webhook.
func (e *Emulator) deliver(ctx context.Context, hook string, headers []headerBody, call webhookCall) error {
	b, err := json.Marshal(call)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Set(h.Key, h.Value)
	}
	resp, err := e.hookc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// redact drops credentials and the query from a URL before it is logged.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
