package bgp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"net/rpc"
	"sync"
	"time"

	"github.com/wackamole/wackamole/pkg/bgp/remote"
)

// Serve is the child's side of package remote: it serves the speaker over
// r and w (wackamole-bgp's standard input and output) until r ends, and
// closes the speaker then, withdrawing what it announced.
func Serve(r io.ReadCloser, w io.WriteCloser, log *slog.Logger) error {
	s := &service{log: log}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Speaker", s); err != nil {
		return err
	}
	srv.ServeConn(conn{r, w})
	return s.close()
}

type conn struct {
	io.ReadCloser
	w io.WriteCloser
}

func (c conn) Write(b []byte) (int, error) { return c.w.Write(b) }
func (c conn) Close() error                { return errors.Join(c.ReadCloser.Close(), c.w.Close()) }

// service is the RPC service; net/rpc calls its methods concurrently.
type service struct {
	log *slog.Logger
	mu  sync.Mutex
	sp  *Speaker
}

var errNotStarted = errors.New("bgp: the speaker is not started")

func (s *service) Start(a remote.StartArgs, r *remote.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp != nil {
		return errors.New("bgp: the speaker is already started")
	}
	cfg := Config{ASN: a.Config.ASN, RouterID: a.Config.RouterID, ListenPort: a.Config.ListenPort, Logger: s.log}
	for _, p := range a.Config.Peers {
		cfg.Peers = append(cfg.Peers, Peer{Address: p.Address, ASN: p.ASN, HoldTime: p.HoldTime, BFD: p.BFD,
			BFDInterval: p.BFDInterval, BFDMultiplier: p.BFDMultiplier, Password: p.Password})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sp, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	s.sp = sp
	return nil
}

func (s *service) Set(a remote.SetArgs, r *remote.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp == nil {
		return errNotStarted
	}
	want := map[netip.Prefix]bool{}
	var errs []error
	for _, rt := range a.Routes {
		want[rt.Prefix] = true
		if err := s.sp.Announce(rt.Prefix, Path{Standby: rt.Standby}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, rt := range s.sp.Announced() {
		if !want[rt.Prefix] {
			if err := s.sp.Withdraw(rt.Prefix); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (s *service) Status(_ remote.Empty, r *remote.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp == nil {
		return errNotStarted
	}
	for _, rt := range s.sp.Announced() {
		r.Announced = append(r.Announced, remote.Route{Prefix: rt.Prefix, Standby: rt.Path.Standby})
	}
	for _, p := range s.sp.Peers() {
		r.Peers = append(r.Peers, remote.PeerStatus{Address: p.Address, ASN: p.ASN, State: p.State.String(), Uptime: p.Uptime,
			HoldTime: p.HoldTime, BFD: p.BFD.String(), Received: p.Received, Accepted: p.Accepted, Advertised: p.Advertised,
			Flaps: p.Flaps, LastError: p.LastError})
	}
	return nil
}

func (s *service) Close(_ remote.Empty, r *remote.Reply) error { return s.close() }

func (s *service) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp == nil {
		return nil
	}
	err := s.sp.Close()
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}
