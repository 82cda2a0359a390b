package taxiitest

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
)

// A Server is an Emulator listening on a loopback address, with the
// emulator-wide endpoints GET /_emulator/stats ({"taxii": Stats}) and
// POST /_emulator/reset. Create one with NewServer and Close it when done.
type Server struct {
	*Emulator
	// URL is the base URL, http://127.0.0.1:port with no trailing slash;
	// discovery is URL + DiscoveryPath.
	URL string

	srv *httptest.Server
}

// NewServer starts and returns a Server for an Emulator configured by opts.
func NewServer(opts Options) *Server {
	s := &Server{Emulator: New(opts)}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// APIRoot returns the API root's URL: URL + APIRootPath.
func (s *Server) APIRoot() string { return s.URL + APIRootPath }

// ServeHTTP serves what URL serves: the Emulator's endpoints plus
// GET /_emulator/stats and POST /_emulator/reset.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_emulator/stats" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]Stats{"taxii": s.Stats()})
	case r.URL.Path == "/_emulator/reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		s.Emulator.ServeHTTP(w, r)
	}
}

// Close shuts the server down, blocking until every request has finished.
func (s *Server) Close() { s.srv.Close() }
