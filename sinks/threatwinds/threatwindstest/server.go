package threatwindstest

import (
	"net/http"
	"net/http/httptest"
)

// A Server is an Emulator listening on a loopback address, like
// httptest.Server. Besides the emulator's endpoints it serves
// GET /_emulator/stats, answering {"threatwinds": Stats}, and
// POST /_emulator/reset, which calls Reset and answers 204.
type Server struct {
	*Emulator
	// URL is the base URL of the server, http://127.0.0.1:port, without
	// a trailing slash; the API is at URL + BasePath.
	URL string

	srv *httptest.Server
}

// NewServer starts and returns a Server running an Emulator configured by
// opts. The caller should call Close when finished, to shut it down.
func NewServer(opts Options) *Server {
	e := New(opts)
	s := &Server{Emulator: e}
	mux := http.NewServeMux()
	mux.HandleFunc("/_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			e.fail(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed for /_emulator/stats; use GET")
			return
		}
		writeJSON(w, http.StatusOK, map[string]Stats{"threatwinds": e.Stats()})
	})
	mux.HandleFunc("/_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			e.fail(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed for /_emulator/reset; use POST")
			return
		}
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", e)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Client returns an HTTP client for the server, as httptest.Server.Client
// does.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the emulator's scan timers and shuts the server down, blocking
// until all outstanding requests on it have completed.
func (s *Server) Close() {
	s.Emulator.Close()
	s.srv.Close()
}
