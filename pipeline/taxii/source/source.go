package source

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// Cursors keeps where the polls of a collection resume, per route key
// and collection id, as the JSON of a taxii.Cursor: both ledgers do
// (pipeline/ledger/cursor.go). PutCursor is durable when it returns.
type Cursors interface {
	Cursor(ctx context.Context, key, collection string) ([]byte, bool, error)
	PutCursor(ctx context.Context, key, collection string, cursor []byte) error
}

// Both ledgers keep cursors.
var (
	_ Cursors = (*ledger.Bolt)(nil)
	_ Cursors = (*ledger.Postgres)(nil)
)

// DefaultWindow is Options.Window when it is zero.
const DefaultWindow = 10000

// Options configures a Source.
type Options struct {
	// Client polls; Collection is the collection polled, resolved
	// (Client.Resolve). Both required.
	Client     *taxii.Client
	Collection taxii.Collection
	// Route names the route in origins, log lines and errors.
	Route string
	// Key is the route key of the ledger (ledger.Key).
	Key string
	// Ledger records the pages and, when it implements Cursors, keeps the
	// cursor; nil means none: every Source starts from Start.
	Ledger ledger.Ledger
	// Start is where the first poll starts when the ledger keeps no cursor
	// (or with Reimport): the zero Cursor reads the whole collection.
	Start taxii.Cursor
	// Reimport starts from Start whatever cursor the ledger keeps, and
	// imports pages the ledger has as imported again.
	Reimport bool
	// Window is the most objects fed past the cursor; zero means
	// DefaultWindow.
	Window int
	// Poll is Watch's period.
	Poll time.Duration
	// Report, when set, receives every report of every page, after the
	// Source's own bookkeeping (reports are serialized).
	Report func(pipeline.FileReport)
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
}

// A Source feeds the pages of a TAXII collection to a pipeline. Create
// one with New; Poll (or Watch) feeds, Close ends it once the pipeline
// ended.
type Source struct {
	opts    Options
	col     taxii.Collection
	cursors Cursors // nil: the cursor lives as long as the Source
	log     *slog.Logger
	dir     string // the private spool folder

	settled     chan settledPage // final reports, to the settler
	settlerDone chan struct{}
	changed     chan struct{} // a page settled (capacity 1)
	writeMu     sync.Mutex    // serializes the cursor's writes, in order

	mu      sync.Mutex
	cursor  taxii.Cursor // after every page settled in order
	pending []*pageState // the poll's pages not folded into cursor, in order
	open    int          // pages begun and not settled
	objects int          // objects of the pending pages fed
	failed  bool         // a page of this poll was not delivered
	dirty   bool         // cursor changed since it was written
	stats   pollStat     // of the current poll
}

// pollStat counts a poll's pages.
type pollStat struct {
	pages, objects, skipped int
	imported                int // pages fed and delivered
}

// A pageState is a page on its way through the pipeline.
type pageState struct {
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
	page *pageState
	ok   bool
}

// New returns the Source of opts, its cursor read from the ledger (else
// Options.Start), and starts its settler.
func New(ctx context.Context, opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	col := opts.Collection
	s := &Source{
		opts: opts, col: col, log: opts.Logger.With("route", opts.Route, "collection", col.ID), cursor: opts.Start,
		settled: make(chan settledPage, 64), settlerDone: make(chan struct{}), changed: make(chan struct{}, 1),
	}
	s.cursors, _ = opts.Ledger.(Cursors)
	from := "the start (no cursor kept)"
	if s.cursors != nil && !opts.Reimport {
		from = "the start"
		raw, ok, err := s.cursors.Cursor(ctx, opts.Key, col.ID)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", opts.Route, err)
		}
		if ok {
			if err := json.Unmarshal(raw, &s.cursor); err != nil {
				return nil, fmt.Errorf("route %s: the ledger's cursor of collection %s: %w", opts.Route, col.ID, err)
			}
			from = "the ledger's cursor"
		}
	}
	var err error
	if s.dir, err = os.MkdirTemp("", "iocpipe-taxii-"); err != nil {
		return nil, fmt.Errorf("route %s: %w", opts.Route, err)
	}
	go s.settle()
	s.log.Info("TAXII collection resolved", "title", col.Title, "api_root", col.APIRoot,
		"from", from, "added_after", s.cursor.AddedAfter, "seen", len(s.cursor.Seen))
	return s, nil
}

// Collection returns the collection polled.
func (s *Source) Collection() taxii.Collection { return s.col }

// origin names a page in reports and rejects.
func (s *Source) origin(p *taxii.Page) string {
	return "taxii:" + s.opts.Route + ":" + s.col.ID + ":" + p.DateAddedRange()
}

// Poll reads the collection once to its end from the cursor, feeding each
// page to feed; it returns once every page was fed (see Wait), early when
// a page of the poll was not delivered, and with the error of a poll
// that failed (the cursor stays at the last page delivered). A poll
// starts after every page of the previous one settled (Wait).
func (s *Source) Poll(ctx context.Context, feed chan<- pipeline.Input) error {
	s.mu.Lock()
	cur := s.cursor
	// Every page of the previous poll settled (wait): those left pending
	// follow one not delivered, and are fetched again.
	s.failed, s.stats, s.pending, s.objects = false, pollStat{}, nil, 0
	s.mu.Unlock()
	for page, err := range s.opts.Client.Poll(ctx, s.col, cur) {
		if err != nil {
			return fmt.Errorf("route %s: %w", s.opts.Route, err)
		}
		if s.hasFailed() {
			s.log.Warn("a page was not delivered: the poll stops; the next one starts from the cursor", "page", page.Number)
			return nil
		}
		pg := &pageState{origin: s.origin(page), cursor: page.Cursor}
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
func (s *Source) input(ctx context.Context, page *taxii.Page, pg *pageState) (*pipeline.Input, error) {
	path, sum, size, err := spoolBundle(s.dir, page.Number, page.Objects)
	if err != nil {
		return nil, fmt.Errorf("route %s: spooling %s: %w", s.opts.Route, pg.origin, err)
	}
	pg.path = path
	in := &pipeline.Input{Path: path, Name: pg.origin}
	if s.opts.Ledger != nil {
		st, err := s.opts.Ledger.Begin(ctx, s.opts.Key, ledger.Content{Sum: sum, Name: pg.origin, Size: size}, s.opts.Reimport)
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
			s.opts.Ledger.Record(s.opts.Key, pg.sum, r.Acked)
			s.opts.Ledger.Undelivered(s.opts.Key, pg.sum, r.Rejected.Union(r.Failed))
		}
		pg.failedRows = pg.failedRows || r.Failed.Len() > 0
		if s.opts.Report != nil {
			s.opts.Report(r)
		}
		if r.Final {
			s.settled <- settledPage{page: pg, ok: !pg.failedRows && r.Result.Err == ""}
		}
	}
	return in, nil
}

// settle settles the pages whose final report came, until close.
func (s *Source) settle() {
	defer close(s.settlerDone)
	for sp := range s.settled {
		s.done(sp.page, sp.ok)
	}
}

// done settles pg: ends its import in the ledger, removes its bundle,
// advances the cursor over the pages settled in order and writes it.
func (s *Source) done(pg *pageState, ok bool) {
	if pg.sum != "" {
		if err := s.opts.Ledger.Finish(context.Background(), s.opts.Key, pg.sum, ok); err != nil {
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
func (s *Source) writeCursor() {
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
		err = s.cursors.PutCursor(context.Background(), s.opts.Key, s.col.ID, raw)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true // the next page's write tries again
		s.mu.Unlock()
		s.log.Error("writing the TAXII cursor: the pages after the last one written are fetched again", "error", err)
	}
}

// hasFailed says a page of the current poll was not delivered.
func (s *Source) hasFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Wait returns once every page fed settled (its final report came), or
// with ctx's error.
func (s *Source) Wait(ctx context.Context) error {
	return s.until(ctx, func() bool { return s.open == 0 })
}

// room returns once fewer than window objects were fed past the cursor
// (or a page failed: the poll stops), or with ctx's error.
func (s *Source) room(ctx context.Context) error {
	return s.until(ctx, func() bool { return s.objects < s.opts.Window || s.failed })
}

// until returns once cond (called under mu) holds, or with ctx's error.
func (s *Source) until(ctx context.Context, cond func() bool) error {
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

// LogPoll logs how the last poll, started at started and ended with err,
// went: its pages, objects and cursor.
func (s *Source) LogPoll(started time.Time, err error) {
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

// Watch polls every Options.Poll (from the start of one poll to the
// next) until ctx is done, then returns nil; a poll that fails is logged
// and tried again at the next. Call Close once the pipeline ended.
func (s *Source) Watch(ctx context.Context, feed chan<- pipeline.Input) error {
	period := s.opts.Poll
	for {
		started := time.Now()
		err := s.Poll(ctx, feed)
		if ctx.Err() != nil || s.Wait(ctx) != nil {
			return nil
		}
		s.LogPoll(started, err)
		t := time.NewTimer(time.Until(started.Add(period)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Close ends the source once the pipeline ended (no report comes any
// more): it settles the pages whose final report came, writes the cursor
// and removes the spool folder.
func (s *Source) Close() {
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
