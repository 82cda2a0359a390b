package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/iocpipe/iocpipe/pipeline"
	"github.com/iocpipe/iocpipe/pipeline/ledger"
	"github.com/iocpipe/iocpipe/pipeline/taxii"
)

// cursorStore keeps where the polls of a route's TAXII collection resume:
// both ledgers are one (pipeline/ledger/cursor.go). A cursor is written
// durably before PutCursor returns.
type cursorStore interface {
	Cursor(ctx context.Context, key, collection string) ([]byte, bool, error)
	PutCursor(ctx context.Context, key, collection string, cursor []byte) error
}

// Both ledgers keep cursors.
var (
	_ cursorStore = (*ledger.Bolt)(nil)
	_ cursorStore = (*ledger.Postgres)(nil)
)

// taxiiSource is a route's taxii: source. Each page a poll yields is a
// unit of input like a file: spooled to a private file as a STIX bundle,
// named by its origin taxii:<route>:<collection id>:<date_added range>,
// begun in the ledger by its content (a page fetched again after a crash
// resumes, skipping the rows acknowledged), and fed to the route's
// pipeline. The cursor in the ledger advances to a page's Cursor only once
// that page and every earlier one settled with nothing failed (every
// object acknowledged by the sink, or rejected); pages that settle out of
// order advance it to the last page of the run settled in order. A page
// not delivered stops the poll: the next one starts from the cursor.
//
// At most window objects are fed past the cursor, so that a crash or a
// failed delivery sends again a bounded number of them; a
// poll waits for the pages of the previous one to settle, so one content
// is never begun twice at once. close ends the source once the
// pipeline ended (no report comes any more).
type taxiiSource struct {
	rc       *RouteConfig
	key      string // the ledger's route key
	client   *taxii.Client
	col      taxii.Collection
	led      ledger.Ledger // nil: none (validate, or no ledger configured)
	cursors  cursorStore   // nil: the cursor lives as long as the process
	reimport bool
	log      *slog.Logger
	dir      string                    // the private spool folder
	report   func(pipeline.FileReport) // the run's own reporting; nil for none
	window   int                       // the most objects in flight

	settled     chan settledPage // final reports, to the settler
	settlerDone chan struct{}
	changed     chan struct{} // a page settled (capacity 1)
	writeMu     sync.Mutex    // serializes the cursor's writes, in order

	mu      sync.Mutex
	cursor  taxii.Cursor  // after every page settled in order
	pending []*taxiiPage  // the poll's pages not folded into cursor, in order
	open    int           // pages begun and not settled
	objects int           // objects of the pending pages fed
	failed  bool          // a page of this poll was not delivered
	dirty   bool          // cursor changed since it was written
	stats   taxiiPollStat // of the current poll
}

// taxiiPollStat counts a poll's pages.
type taxiiPollStat struct {
	pages, objects, skipped int
	imported                int // pages fed and delivered
}

// A taxiiPage is a page on its way through the pipeline.
type taxiiPage struct {
	origin  string
	path    string // the spooled bundle; "" for a page with nothing to read
	sum     string // its content in the ledger; "" when not begun
	cursor  taxii.Cursor
	done    bool
	ok      bool
	objects int // fed to the pipeline
	// failedRows says a report of the page had failed rows (reports are
	// serialized: only they touch it).
	failedRows bool
}

// settledPage is a page's final report: ok when nothing of it failed.
type settledPage struct {
	page *taxiiPage
	ok   bool
}

// newTAXIISource resolves route rc's collection and reads its cursor (else
// starts from added_after, as with --reimport). l is the ledger (nil for
// none), report the run's reporting of each page (nil for none). Errors
// name the route's key: a configuration error (exit 2) for a collection
// that cannot be used as configured, exit 1 for a server that cannot be
// reached or refuses the credentials.
func newTAXIISource(ctx context.Context, cfg *Config, rc *RouteConfig, l ledger.Ledger, reimport bool, report func(pipeline.FileReport), log *slog.Logger) (*taxiiSource, error) {
	t := rc.TAXII
	key := cfg.routeKey(rc) + ".taxii"
	log = log.With("route", rc.Name)
	opts, err := cfg.taxiiOptions(rc, log)
	if err != nil {
		return nil, err
	}
	client, err := taxii.New(opts)
	if err != nil {
		return nil, cfg.errorf(key, "%v", err)
	}
	col, err := client.Resolve(ctx, t.URL, t.Collection)
	if err != nil {
		return nil, taxiiStartError(cfg, rc, err)
	}
	s := &taxiiSource{
		rc: rc, key: ledger.Key(rc.Name, rc.Sink), client: client, col: col, led: l, reimport: reimport,
		log: log.With("collection", col.ID), report: report, cursor: t.startCursor(),
		settled: make(chan settledPage, 64), settlerDone: make(chan struct{}), changed: make(chan struct{}, 1),
		window: taxiiWindow(cfg.Delivery(rc)),
	}
	s.cursors, _ = l.(cursorStore)
	from := "added_after"
	if s.cursors != nil && !reimport {
		raw, ok, err := s.cursors.Cursor(ctx, s.key, col.ID)
		if err != nil {
			return nil, &exitError{code: exitFailed, err: fmt.Errorf("route %s: %w", rc.Name, err)}
		}
		if ok {
			if err := json.Unmarshal(raw, &s.cursor); err != nil {
				return nil, &exitError{code: exitFailed, err: fmt.Errorf("route %s: the ledger's cursor of collection %s: %w", rc.Name, col.ID, err)}
			}
			from = "the ledger's cursor"
		}
	}
	if s.dir, err = os.MkdirTemp("", "iocpipe-taxii-"); err != nil {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("route %s: %w", rc.Name, err)}
	}
	go s.settle()
	s.log.Info("TAXII collection resolved", "title", col.Title, "api_root", col.APIRoot,
		"from", from, "added_after", s.cursor.AddedAfter, "seen", len(s.cursor.Seen))
	return s, nil
}

// taxiiStartError is the error of a collection that cannot be resolved,
// naming the route's key.
func taxiiStartError(cfg *Config, rc *RouteConfig, err error) error {
	key := cfg.routeKey(rc) + ".taxii"
	switch {
	case errors.Is(err, taxii.ErrNoCollection) || errors.Is(err, taxii.ErrNotReadable):
		return cfg.errorf(key+".collection", "%v", err)
	case errors.Is(err, taxii.ErrTAXII20) || errors.Is(err, taxii.ErrMediaType) || errors.Is(err, taxii.ErrNotFound) || errors.Is(err, taxii.ErrNotDiscovery):
		return cfg.errorf(key+".url", "%v", err)
	}
	// The server cannot be reached, or refuses the credentials (which
	// come from the environment): exit 1, as taxii discover.
	return &exitError{code: exitFailed, err: fmt.Errorf("%s: %s: %w", cfg.path, key, err)}
}

// origin names a page in reports and rejects.
func (s *taxiiSource) origin(p *taxii.Page) string {
	return "taxii:" + s.rc.Name + ":" + s.col.ID + ":" + p.DateAddedRange()
}

// poll reads the collection once to its end from the cursor, feeding each
// page to feed; it returns once every page was fed (see wait), early when
// a page of the poll was not delivered, and with the error of a poll
// that failed (the cursor stays at the last page delivered).
func (s *taxiiSource) poll(ctx context.Context, feed chan<- pipeline.Input) error {
	s.mu.Lock()
	cur := s.cursor
	// Every page of the previous poll settled (wait): those left pending
	// follow one not delivered, and are fetched again.
	s.failed, s.stats, s.pending, s.objects = false, taxiiPollStat{}, nil, 0
	s.mu.Unlock()
	for page, err := range s.client.Poll(ctx, s.col, cur) {
		if err != nil {
			return fmt.Errorf("route %s: %w", s.rc.Name, err)
		}
		if s.hasFailed() {
			s.log.Warn("a page was not delivered: the poll stops; the next one starts from the cursor", "page", page.Number)
			return nil
		}
		pg := &taxiiPage{origin: s.origin(page), cursor: page.Cursor}
		s.mu.Lock()
		s.pending = append(s.pending, pg)
		s.open++
		s.stats.pages++
		s.stats.objects += len(page.Objects)
		s.stats.skipped += page.Skipped
		s.mu.Unlock()
		if len(page.Objects) == 0 { // objects delivered already: the cursor moves
			s.done(pg, true)
			continue
		}
		in, err := s.input(ctx, page, pg)
		if err != nil {
			s.done(pg, false)
			return err
		}
		if in == nil { // imported before
			s.done(pg, true)
			continue
		}
		if err := s.room(ctx); err != nil {
			s.done(pg, false)
			return err
		}
		s.mu.Lock()
		pg.objects = len(page.Objects)
		s.objects += pg.objects
		s.mu.Unlock()
		select {
		case feed <- *in:
		case <-ctx.Done():
			s.done(pg, false)
			return ctx.Err()
		}
	}
	return nil
}

// input spools page and begins it in the ledger; nil means the ledger
// has the page imported (every row delivered) already.
func (s *taxiiSource) input(ctx context.Context, page *taxii.Page, pg *taxiiPage) (*pipeline.Input, error) {
	path, sum, size, err := spoolBundle(s.dir, page.Number, page.Objects)
	if err != nil {
		return nil, fmt.Errorf("route %s: spooling %s: %w", s.rc.Name, pg.origin, err)
	}
	pg.path = path
	in := &pipeline.Input{Path: path, Name: pg.origin}
	if s.led != nil {
		st, err := s.led.Begin(ctx, s.key, ledger.Content{Sum: sum, Name: pg.origin, Size: size}, s.reimport)
		switch {
		case err != nil:
			s.log.Error("reading the ledger: importing the page without it", "page", pg.origin, "error", err)
		case st.Status == ledger.Duplicate:
			s.log.Info("page imported before: skipped", "page", pg.origin, "imported", st.Entry.Imported)
			return nil, nil
		default:
			if st.Status == ledger.Resume {
				s.log.Info("resuming a page: rows acknowledged before are skipped", "page", pg.origin, "rows_acknowledged", st.Resumed().Len())
			}
			pg.sum, in.Skip = sum, st.Skip
		}
	}
	in.Report = func(r pipeline.FileReport) {
		if pg.sum != "" {
			s.led.Record(s.key, pg.sum, r.Acked)
			s.led.Undelivered(s.key, pg.sum, r.Rejected.Union(r.Failed))
		}
		pg.failedRows = pg.failedRows || r.Failed.Len() > 0
		if s.report != nil {
			s.report(r)
		}
		if r.Final {
			s.settled <- settledPage{page: pg, ok: !pg.failedRows && r.Result.Err == ""}
		}
	}
	return in, nil
}

// settle settles the pages whose final report came, until close.
func (s *taxiiSource) settle() {
	defer close(s.settlerDone)
	for sp := range s.settled {
		s.done(sp.page, sp.ok)
	}
}

// done settles pg: ends its import in the ledger, removes its bundle,
// advances the cursor over the pages settled in order and writes it.
func (s *taxiiSource) done(pg *taxiiPage, ok bool) {
	if pg.sum != "" {
		if err := s.led.Finish(context.Background(), s.key, pg.sum, ok); err != nil {
			s.log.Error("recording the page in the ledger", "page", pg.origin, "error", err)
		}
	}
	if pg.path != "" {
		os.Remove(pg.path)
	}
	s.mu.Lock()
	pg.done, pg.ok = true, ok
	s.open--
	if ok && pg.objects > 0 {
		s.stats.imported++
	}
	if !ok {
		s.failed = true
	}
	for len(s.pending) > 0 && s.pending[0].done && s.pending[0].ok {
		s.cursor, s.dirty = s.pending[0].cursor, true
		s.objects -= s.pending[0].objects
		s.pending = s.pending[1:]
	}
	s.mu.Unlock()
	s.writeCursor()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// writeCursor writes the cursor when it changed since the last write;
// writes are serialized, each of the newest cursor, so they come in order.
func (s *taxiiSource) writeCursor() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	cur, dirty := s.cursor, s.dirty
	s.dirty = false
	s.mu.Unlock()
	if !dirty || s.cursors == nil {
		return
	}
	raw, err := json.Marshal(cur)
	if err == nil {
		err = s.cursors.PutCursor(context.Background(), s.key, s.col.ID, raw)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true // the next page's write tries again
		s.mu.Unlock()
		s.log.Error("writing the TAXII cursor: the pages after the last one written are fetched again", "error", err)
	}
}

// hasFailed says a page of the current poll was not delivered.
func (s *taxiiSource) hasFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// taxiiWindow is the most objects a source has in flight: what the
// route's sink takes at once, and as much again being batched.
func taxiiWindow(d DeliveryConfig) int { return (d.InFlight + 1) * d.BatchSize }

// wait returns once every page begun settled, or with ctx's error.
func (s *taxiiSource) wait(ctx context.Context) error {
	return s.until(ctx, func() bool { return s.open == 0 })
}

// room returns once fewer than window objects were fed past the cursor
// (or a page failed: the poll stops), or with ctx's error.
func (s *taxiiSource) room(ctx context.Context) error {
	return s.until(ctx, func() bool { return s.objects < s.window || s.failed })
}

// until returns once cond (called under mu) holds, or with ctx's error.
func (s *taxiiSource) until(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// logPoll says how the poll went.
func (s *taxiiSource) logPoll(started time.Time, err error) {
	s.mu.Lock()
	st, cur, failed := s.stats, s.cursor, s.failed
	s.mu.Unlock()
	args := []any{"pages", st.pages, "objects", st.objects, "skipped_at_bound", st.skipped, "pages_imported", st.imported,
		"cursor", cur.AddedAfter, "duration", time.Since(started).Round(time.Millisecond).String()}
	switch {
	case err != nil:
		s.log.Error("TAXII poll failed: the next poll starts from the cursor", append(args, "error", err)...)
	case failed:
		s.log.Warn("TAXII poll ended with a page not delivered: the next poll starts from the cursor", args...)
	default:
		s.log.Info("TAXII poll done", args...)
	}
}

// watch polls every poll: (from the start of one poll to the next), until
// ctx is done; a poll that fails is logged and tried again at the next.
func (s *taxiiSource) watch(ctx context.Context, feed chan<- pipeline.Input) error {
	period := time.Duration(s.rc.TAXII.Poll)
	for {
		started := time.Now()
		err := s.poll(ctx, feed)
		if ctx.Err() != nil || s.wait(ctx) != nil {
			return nil
		}
		s.logPoll(started, err)
		t := time.NewTimer(time.Until(started.Add(period)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// close ends the source once the pipeline ended: it settles the pages
// whose final report came, writes the cursor and removes the spool.
func (s *taxiiSource) close() {
	close(s.settled)
	<-s.settlerDone
	s.writeCursor()
	os.RemoveAll(s.dir)
}

// spoolBundle writes objects to a new private file in dir as a STIX
// bundle, {"type":"bundle","id":"bundle--…","objects":[…]}, whose id is
// derived from the objects (the same page spools to the same content),
// and returns its path, its SHA-256 and size.
func spoolBundle(dir string, n int, objects []json.RawMessage) (path, sum string, size int64, err error) {
	h := sha256.New()
	for _, o := range objects {
		h.Write(o)
		h.Write([]byte{'\n'})
	}
	id := h.Sum(nil)
	f, err := os.CreateTemp(dir, fmt.Sprintf("page-%06d-*.json", n))
	if err != nil {
		return "", "", 0, err
	}
	path = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	content := sha256.New()
	w := bufio.NewWriter(io.MultiWriter(f, content))
	fmt.Fprintf(w, `{"type":"bundle","id":"bundle--%s","objects":[`, uuidFrom(id))
	for i, o := range objects {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(o)
	}
	w.WriteString("\n]}\n")
	if err = w.Flush(); err != nil {
		return "", "", 0, err
	}
	if size, err = f.Seek(0, io.SeekCurrent); err != nil {
		return "", "", 0, err
	}
	if err = f.Close(); err != nil {
		return "", "", 0, err
	}
	return path, hex.EncodeToString(content.Sum(nil)), size, nil
}

// uuidFrom formats the first 16 bytes of a hash as a name-based UUID
// (version 8, RFC 9562: custom).
func uuidFrom(h []byte) string {
	var u [16]byte
	copy(u[:], h)
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
