package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Backend is what the server controls; *daemon.Daemon is one.
type Backend interface {
	// Status returns the node's state as of its last round.
	Status() Status
	// Drain hands every VIP over and keeps the node in the group,
	// ineligible; it returns when done, or when ctx ends.
	Drain(ctx context.Context) error
	// Undrain makes the node eligible again.
	Undrain(ctx context.Context) error
	// Reload reads the configuration file again and applies it.
	Reload(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	// Path is the socket's file name (required).
	Path string
	// Group, when set, names the group whose members may use the socket
	// besides root: the socket gets mode 0660 and that group. Otherwise it
	// gets mode 0600 and only root may use it.
	Group string
	// Backend answers the requests (required).
	Backend Backend
	// Logger receives the commands run and the errors; default
	// slog.Default().
	Logger *slog.Logger
}

// Timeouts of the server. A drain extends its own write deadline to its
// timeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	// commandTimeout bounds undrain and reload, which only wait for the
	// agent's loop to take them.
	commandTimeout = 30 * time.Second
	maxHeaderBytes = 8 << 10
	// closeTimeout is how long Close lets running requests finish.
	closeTimeout = 2 * time.Second
)

// Server serves the control protocol on a unix socket.
type Server struct {
	path    string
	group   string
	gid     int // -1 without a group
	backend Backend
	log     *slog.Logger
	ln      *net.UnixListener
	http    *http.Server
	routes  map[string]route
	// now is the clock that times commands (Result.ElapsedMS); a test
	// replaces it to get answers that do not vary.
	now func() time.Time

	closeOnce sync.Once
	closeErr  error
}

type route struct {
	method string
	params []string
	handle func(w http.ResponseWriter, r *http.Request, q url.Values)
}

// Listen creates the socket (see Options) and returns a server that does
// not accept requests until Serve. It refuses to start when another process
// answers on the socket or when the path is something else than a socket;
// a socket nobody answers on (left by a crashed daemon) is replaced.
func Listen(o Options) (*Server, error) {
	if o.Path == "" {
		return nil, errors.New("control: Options.Path is required")
	}
	if o.Backend == nil {
		return nil, errors.New("control: Options.Backend is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{path: o.Path, group: o.Group, gid: -1, backend: o.Backend, log: o.Logger, now: time.Now}
	if o.Group != "" {
		gid, err := lookupGroup(o.Group)
		if err != nil {
			return nil, fmt.Errorf("control socket %s: %w", o.Path, err)
		}
		s.gid = gid
	}
	ln, err := listenUnix(o.Path, s.gid, s.log)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.routes = map[string]route{
		PathStatus:  {method: http.MethodGet, handle: s.status},
		PathMembers: {method: http.MethodGet, handle: s.members},
		PathVIPs:    {method: http.MethodGet, handle: s.vips},
		PathDrain:   {method: http.MethodPost, params: []string{"timeout"}, handle: s.drain},
		PathUndrain: {method: http.MethodPost, handle: s.undrain},
		PathReload:  {method: http.MethodPost, handle: s.reload},
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			p, err := peerCred(c)
			return context.WithValue(ctx, peerKey{}, peerInfo{p, err})
		},
	}
	return s, nil
}

// Path returns the socket's file name.
func (s *Server) Path() string { return s.path }

// Serve answers requests until Close; then it returns nil.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("control socket %s: %w", s.path, err)
}

// Close stops accepting requests, lets running ones finish for a moment
// (a drain in progress is cut off: the node stays draining), and removes
// the socket.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if err != nil {
			err = s.http.Close()
		}
		// Shutdown closes the listener, which removes the socket file;
		// without Serve it never saw the listener.
		if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = cerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

// peer is who is on the other end of a connection.
type peer struct {
	PID    int
	UID    uint32
	GID    uint32
	Groups []uint32
}

type peerKey struct{}

type peerInfo struct {
	peer peer
	err  error
}

// authorize says whether p may use the socket, and if not, why.
func (s *Server) authorize(pi peerInfo) error {
	if pi.err != nil {
		return fmt.Errorf("permission denied: cannot read the client's credentials: %v", pi.err)
	}
	p := pi.peer
	if p.UID == 0 {
		return nil
	}
	if s.gid < 0 {
		return fmt.Errorf("permission denied: uid %d is not root, and no control_group is configured; run wackatrl as root", p.UID)
	}
	if p.GID == uint32(s.gid) || slices.Contains(p.Groups, uint32(s.gid)) {
		return nil
	}
	return fmt.Errorf("permission denied: uid %d is neither root nor a member of the control group %q", p.UID, s.group)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug in a handler must not take the daemon down, nor leave the
		// client without an answer.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("control: handler panicked", "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "internal error (see the daemon's log)")
		}
	}()
	pi, _ := r.Context().Value(peerKey{}).(peerInfo)
	if err := s.authorize(pi); err != nil {
		s.log.Warn("control: request refused", "path", r.URL.Path, "uid", pi.peer.UID, "pid", pi.peer.PID, "err", err)
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %q (this daemon speaks %s)", r.URL.Path, strings.Join(s.paths(), ", ")))
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s needs %s, not %s", r.URL.Path, rt.method, r.Method))
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("malformed query string: %v", err))
		return
	}
	for k, vs := range q {
		if !slices.Contains(rt.params, k) {
			takes := "no parameters"
			if len(rt.params) > 0 {
				takes = "only " + strings.Join(rt.params, ", ")
			}
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q: %s takes %s", k, r.URL.Path, takes))
			return
		}
		if len(vs) > 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("parameter %q given %d times", k, len(vs)))
			return
		}
	}
	if status, msg := checkEmptyBody(r); status != 0 {
		writeError(w, status, msg)
		return
	}
	rt.handle(w, r, q)
}

// checkEmptyBody reads the body (bounded) and insists it is empty.
func checkEmptyBody(r *http.Request) (int, string) {
	if r.ContentLength > MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large (%d bytes); no endpoint takes a body", r.ContentLength)
	}
	n, err := io.Copy(io.Discard, http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes; no endpoint takes a body", MaxBodyBytes)
	case err != nil:
		return http.StatusBadRequest, fmt.Sprintf("reading the request body: %v", err)
	case n > 0:
		return http.StatusBadRequest, "no endpoint takes a request body; parameters go in the query string"
	}
	return 0, ""
}

func (s *Server) paths() []string {
	var out []string
	for p := range s.routes {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, _ url.Values) {
	writeJSON(w, http.StatusOK, s.backend.Status())
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, _ url.Values) {
	st := s.backend.Status()
	writeJSON(w, http.StatusOK, Members{Node: st.Node, Quorum: st.Quorum, Members: nonNil(st.Members)})
}

func (s *Server) vips(w http.ResponseWriter, r *http.Request, _ url.Values) {
	st := s.backend.Status()
	writeJSON(w, http.StatusOK, VIPs{Node: st.Node, VIPs: nonNil(st.VIPs)})
}

// ParseDrainTimeout checks a drain timeout as the query parameter carries
// it: a Go duration, more than zero and at most MaxDrainTimeout. An empty
// string means DefaultDrainTimeout.
func ParseDrainTimeout(v string) (time.Duration, error) {
	if v == "" {
		return DefaultDrainTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("drain timeout %q is not a duration such as 30s or 2m", v)
	}
	if d <= 0 || d > MaxDrainTimeout {
		return 0, fmt.Errorf("drain timeout %v is out of range: more than 0 and at most %v", d, MaxDrainTimeout)
	}
	return d, nil
}

func (s *Server) drain(w http.ResponseWriter, r *http.Request, q url.Values) {
	timeout, err := ParseDrainTimeout(q.Get("timeout"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.run(w, r, "drain", timeout, s.backend.Drain)
}

func (s *Server) undrain(w http.ResponseWriter, r *http.Request, _ url.Values) {
	s.run(w, r, "undrain", commandTimeout, s.backend.Undrain)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request, _ url.Values) {
	s.run(w, r, "reload", commandTimeout, s.backend.Reload)
}

// run runs a command with a timeout and answers with its Result.
func (s *Server) run(w http.ResponseWriter, r *http.Request, name string, timeout time.Duration, f func(context.Context) error) {
	pi, _ := r.Context().Value(peerKey{}).(peerInfo)
	s.log.Info("control: "+name+" requested", "uid", pi.peer.UID, "pid", pi.peer.PID)
	// The answer comes after the command. The server's read deadline is
	// still armed too, and net/http cancels the request's context when the
	// connection's read times out: move both past the command's end.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(timeout + writeTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	start := s.now()
	err := f(ctx)
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer. A drain goes on
		// in the agent regardless.
		s.log.Info("control: client left before "+name+" finished", "err", err)
		return
	}
	elapsed := s.now().Sub(start)
	st := s.backend.Status()
	res := Result{
		Command:   name,
		Node:      st.Node,
		OK:        err == nil,
		State:     st.State,
		Held:      held(st),
		ElapsedMS: elapsed.Milliseconds(),
	}
	code := http.StatusOK
	if err != nil {
		res.Error = err.Error()
		code = http.StatusConflict
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			res.TimedOut = true
			code = http.StatusGatewayTimeout
		}
		s.log.Warn("control: "+name+" failed", "err", err, "elapsed", elapsed)
	} else {
		s.log.Info("control: "+name+" done", "elapsed", elapsed)
	}
	writeJSON(w, code, res)
}

// held lists the VIPs the answering node holds. Its own member entry is
// built from what it holds at the end of the last round; the VIPs' holder
// lists come from the round's input and may lag by one round.
func held(st Status) []string {
	for _, m := range st.Members {
		if m.Self {
			return append([]string{}, m.Held...)
		}
	}
	out := []string{}
	for _, v := range st.VIPs {
		if slices.Contains(v.Holders, st.Node) {
			out = append(out, v.Name)
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}
