package quota

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iocpipe/iocpipe/pipeline/ledger/pgtest"
	"github.com/iocpipe/iocpipe/sinks"
)

// pg is the PostgreSQL server of this test binary.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Run(m)) }

// openStores opens n Stores on one new database: n instances.
func openStores(t *testing.T, n int, log *slog.Logger) []*Store {
	t.Helper()
	dsn := pg.Database(t)
	var out []*Store
	for range n {
		s, err := Open(t.Context(), dsn, Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		out = append(out, s)
	}
	return out
}

// oneAnHour is a rate (calls a second) so slow that no token refills
// during a test.
const oneAnHour = 1.0 / 3600

// TestTakeShared: instances draw from one bucket: a burst of 3 is 3
// calls in all, whichever instance takes them; the fourth waits for the
// refill (an hour at one call an hour); another credential has its own
// bucket.
func TestTakeShared(t *testing.T) {
	ss := openStores(t, 3, nil)
	key := Key("https://api.example", "client-1")
	for i, s := range ss {
		if wait, err := s.take(t.Context(), key, oneAnHour, 3); err != nil || wait != 0 {
			t.Fatalf("take %d: wait %v, err %v, want granted", i, wait, err)
		}
	}
	wait, err := ss[0].take(t.Context(), key, oneAnHour, 3)
	if err != nil || wait < 59*time.Minute {
		t.Errorf("fourth take: wait %v, err %v, want about an hour", wait, err)
	}
	other := Key("https://api.example", "client-2")
	if wait, err := ss[1].take(t.Context(), other, oneAnHour, 3); err != nil || wait != 0 {
		t.Errorf("another client: wait %v, err %v, want granted", wait, err)
	}
	var calls int64
	if err := ss[0].pool.QueryRow(t.Context(), "SELECT calls FROM iocpipe_quota WHERE bucket = $1", key).Scan(&calls); err != nil || calls != 3 {
		t.Errorf("calls = %d (%v), want 3", calls, err)
	}
}

// TestKeyHidesTheCredential: the bucket names neither the URL nor the
// client id, and differs for each.
func TestKeyHidesTheCredential(t *testing.T) {
	k := Key("https://api.example", "client-1")
	if strings.Contains(k, "client") || strings.Contains(k, "example") || len(k) != 64 {
		t.Errorf("Key = %q, want a hex SHA-256", k)
	}
	if k == Key("https://api.example", "client-2") || k == Key("https://other.example", "client-1") {
		t.Error("two credentials share a bucket")
	}
}

// TestPauseShared: a pause (a 429's wait) asked by one instance holds
// every instance's calls until it is over, even with tokens left.
func TestPauseShared(t *testing.T) {
	ss := openStores(t, 2, nil)
	key := Key("https://api.example", "client-1")
	a, b := ss[0].Limiter(key, 6000, 10), ss[1].Limiter(key, 6000, 10)
	if err := a.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.Pause(t.Context(), time.Hour)
	wait, err := ss[1].take(t.Context(), key, b.perSecond, b.burst)
	if err != nil || wait < 59*time.Minute {
		t.Errorf("take after the pause: wait %v, err %v, want about an hour", wait, err)
	}
	b.Pause(t.Context(), time.Minute) // shorter: the longer pause stays
	if wait, _ := ss[0].take(t.Context(), key, a.perSecond, a.burst); wait < 59*time.Minute {
		t.Errorf("a shorter pause shortened the longer one: wait %v", wait)
	}
}

// TestDoerPausesOn429: the HTTP kit tells its limiter the wait of a 429,
// so another instance's next call waits it too.
func TestDoerPausesOn429(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	ss := openStores(t, 2, nil)
	key := Key(srv.URL, "client-1")
	d := sinks.NewDoer(sinks.HTTPOptions{RetryDeadline: time.Second, Limiter: ss[0].Limiter(key, 6000, 10)})
	_, _, err := d.Do(t.Context(), func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	}, func(*http.Response, []byte) *sinks.HTTPError { return nil })
	if err == nil {
		t.Fatal("Do succeeded against a 429")
	}
	if wait, err := ss[1].take(t.Context(), key, 100, 10); err != nil || wait < 59*time.Minute {
		t.Errorf("the other instance's take: wait %v, err %v, want the 429's hour", wait, err)
	}
}

// TestWaitConcurrent: many waiters of three instances on a fast bucket
// all get their call, each counted once.
func TestWaitConcurrent(t *testing.T) {
	ss := openStores(t, 3, nil)
	key := Key("https://api.example", "client-1")
	var wg sync.WaitGroup
	for _, s := range ss {
		l := s.Limiter(key, 1200, 2) // 20 a second
		for range 4 {
			wg.Go(func() {
				for range 2 {
					if err := l.Wait(t.Context()); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	var calls int64
	if err := ss[0].pool.QueryRow(t.Context(), "SELECT calls FROM iocpipe_quota WHERE bucket = $1", key).Scan(&calls); err != nil || calls != 24 {
		t.Errorf("calls = %d (%v), want 24", calls, err)
	}
}

// TestUnreachableFallsBack: a Limiter whose database stops answering
// keeps granting calls in-process, and says so once.
func TestUnreachableFallsBack(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s := openStores(t, 1, log)[0]
	l := s.Limiter(Key("https://api.example", "client-1"), 6000, 5)
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close() // the database is gone
	for i := range 4 {
		if err := l.Wait(t.Context()); err != nil {
			t.Fatalf("wait %d without the database: %v", i, err)
		}
	}
	l.Pause(t.Context(), time.Second)
	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "shared quota unreachable") {
		t.Errorf("log has %d WARN lines, want one saying the quota is unreachable:\n%s", n, out)
	}
	if strings.Contains(out, "password") {
		t.Errorf("the log names the password:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
