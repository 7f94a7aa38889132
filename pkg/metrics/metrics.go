// Package metrics exports a wackamole node's state to Prometheus.
//
// A Collector reads the node's status (the control protocol's Status) on
// every scrape, so the metrics can never disagree with what wackatrl shows,
// and nothing has to be updated on the reconcile loop's path. The counters
// are the agent's own (counted since the daemon started), exported as
// Prometheus counters.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wackamole/wackamole/pkg/control"
)

// Source gives the node's state; *daemon.Daemon is one.
type Source interface {
	Status() control.Status
}

// Member states always exported, 0 when no member is in them, so that a
// dashboard's series do not come and go. Members that are not alive count
// as "dead" whatever they last said.
var memberStates = []string{"joining", "mature", "draining", "dead"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("wackamole_"+name, help, labels, nil)
}

var (
	membersDesc       = desc("members", "Members of the group as this node sees them, by state (dead: not heard from within the failure timeout).", "state")
	eligibleDesc      = desc("members_eligible", "Members that may be given VIPs.")
	quorumHaveDesc    = desc("quorum_have", "Live, same-configured members this node sees, itself included.")
	quorumNeedDesc    = desc("quorum_need", "Members needed for quorum.")
	quorumOKDesc      = desc("quorum_ok", "1 when this node sees a quorum: it may take orphaned VIPs and rebalance.")
	vipsDesc          = desc("vips", "VIPs configured.")
	vipsHeldDesc      = desc("vips_held", "VIPs this node holds.")
	vipOwnerDesc      = desc("vip_owner", "1 for each VIP and the member serving it (owner is empty while nobody does).", "vip", "owner")
	vipHoldersDesc    = desc("vip_holders", "Members claiming each VIP: 2 during a hand-over, more than 1 for long means a conflict.", "vip")
	nodeInfoDesc      = desc("node_info", "1, labelled with this node's name, state and timing profile.", "node", "state", "timing")
	healthyDesc       = desc("healthy", "1 when this node's health checks pass.")
	startDesc         = desc("start_time_seconds", "When the agent started, in seconds since the Unix epoch.")
	acquisitionsDesc  = desc("acquisitions_total", "VIPs this node acquired, by cause.", "cause")
	releasesDesc      = desc("releases_total", "VIPs this node released, by cause.", "cause")
	conflictsDesc     = desc("conflicts_total", "Times another host announced a VIP this node held.")
	announcementsDesc = desc("announcements_total", "Gratuitous ARP and unsolicited neighbour advertisements sent.")
	errorsDesc        = desc("errors_total", "Errors applying the plan (netlink, ARP, metadata).")
	gossipHealthDesc  = desc("gossip_health_score", "memberlist's awareness score: 0 is healthy, higher means this node is slow to keep up with the group.")
	dampedDesc        = desc("damped", "1 while this node is damped for flapping: it takes no VIPs.")
	penaltyDesc       = desc("damping_penalty", "This node's flap damping penalty (RFC 2439 style: each flap adds, it halves every half-life).")
	unreachableDesc   = desc("members_unreachable", "Members that others hear but this node does not: a cut path between two members.")
	bgpSessionDesc    = desc("bgp_session_up", "1 while the BGP session with the router is established (bgp mode).", "peer")
	bgpBFDDesc        = desc("bgp_bfd_up", "1 while the BFD session with the router is up (bgp mode, bfd = true).", "peer")
	bgpFlapsDesc      = desc("bgp_session_flaps_total", "Times the BGP session went down after being established.", "peer")
	bgpRoutesDesc     = desc("bgp_routes_announced", "Host routes this node announces, by path (owner or standby).", "path")
)

// Collector is a prometheus.Collector of a node's Status.
type Collector struct {
	src Source
}

// NewCollector returns a collector that reads src on every scrape.
func NewCollector(src Source) *Collector {
	return &Collector{src: src}
}

// Describe sends the descriptors of every metric the collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		membersDesc, eligibleDesc, quorumHaveDesc, quorumNeedDesc, quorumOKDesc, vipsDesc, vipsHeldDesc,
		vipOwnerDesc, vipHoldersDesc, nodeInfoDesc, healthyDesc, startDesc, acquisitionsDesc, releasesDesc,
		conflictsDesc, announcementsDesc, errorsDesc, gossipHealthDesc, dampedDesc, penaltyDesc, unreachableDesc,
		bgpSessionDesc, bgpBFDDesc, bgpFlapsDesc, bgpRoutesDesc,
	} {
		ch <- d
	}
}

// Collect reads the status and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status()
	send := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		// NewConstMetric, not MustNewConstMetric: a name that is not
		// valid UTF-8 must spoil one series, not crash the daemon.
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.GaugeValue, v, labels...) }
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		send(d, prometheus.CounterValue, float64(v), labels...)
	}

	byState := map[string]int{}
	eligible, unreachable := 0, 0
	for _, m := range s.Members {
		if m.Unreachable {
			unreachable++
		}
		state := m.State
		if !m.Alive {
			state = "dead"
		} else if state == "" {
			state = "unknown"
		}
		byState[state]++
		if m.Eligible {
			eligible++
		}
	}
	states := slices.Clone(memberStates)
	for st := range byState {
		if !slices.Contains(states, st) {
			states = append(states, st)
		}
	}
	for _, st := range states {
		gauge(membersDesc, float64(byState[st]), st)
	}
	gauge(eligibleDesc, float64(eligible))

	gauge(quorumHaveDesc, float64(s.Quorum.Have))
	gauge(quorumNeedDesc, float64(s.Quorum.Need))
	gauge(quorumOKDesc, b2f(s.Quorum.OK))

	gauge(vipsDesc, float64(len(s.VIPs)))
	for _, v := range s.VIPs {
		gauge(vipOwnerDesc, 1, v.Name, v.Owner)
		gauge(vipHoldersDesc, float64(len(v.Holders)), v.Name)
	}
	// This node's own member entry says what it holds at the end of the
	// last round; the VIPs' holder lists may lag by a round.
	held := 0
	for _, m := range s.Members {
		if m.Self {
			held = len(m.Held)
		}
	}
	gauge(vipsHeldDesc, float64(held))

	gauge(nodeInfoDesc, 1, s.Node, s.State, s.Timing)
	gauge(healthyDesc, b2f(s.Healthy))
	if !s.Started.IsZero() {
		gauge(startDesc, float64(s.Started.UnixNano())/1e9)
	}
	for cause, n := range s.Counters.Acquired {
		counter(acquisitionsDesc, n, cause)
	}
	for cause, n := range s.Counters.Released {
		counter(releasesDesc, n, cause)
	}
	counter(conflictsDesc, s.Counters.Conflicts)
	counter(announcementsDesc, s.Counters.Announcements)
	counter(errorsDesc, s.Counters.Errors)
	gauge(gossipHealthDesc, float64(s.GossipHealth))
	gauge(dampedDesc, b2f(s.Damping.Damped))
	gauge(penaltyDesc, float64(s.Damping.Penalty))
	gauge(unreachableDesc, float64(unreachable))
	if b := s.BGP; b != nil {
		for _, p := range b.Peers {
			gauge(bgpSessionDesc, b2f(p.State == "established"), p.Address)
			gauge(bgpBFDDesc, b2f(p.BFD == "up"), p.Address)
			counter(bgpFlapsDesc, uint64(p.Flaps), p.Address)
		}
		owner, standby := 0, 0
		for _, r := range b.Routes {
			if r.Standby {
				standby++
			} else {
				owner++
			}
		}
		gauge(bgpRoutesDesc, float64(owner), "owner")
		gauge(bgpRoutesDesc, float64(standby), "standby")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves the node's metrics, with the Go runtime's and the
// process's, in the Prometheus exposition formats.
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A scrape that fails half-way still returns what it could.
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes are cheap; more than a few at once is a misconfiguration.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Server serves /metrics on a TCP address.
type Server struct {
	ln   net.Listener
	http *http.Server
	log  *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Listen binds addr (host:port, as metrics_listen) and returns a server
// that does not answer until Serve. Binding early makes a port in use an
// error at start-up rather than a log line later.
func Listen(addr string, src Source, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(src))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "wackamole: metrics at /metrics")
	})
	s := &Server{ln: ln, log: log}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers scrapes until Close, then returns nil.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("metrics on %s: %w", s.ln.Addr(), err)
}

// Close stops the server; a scrape under way gets a moment to finish.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		if err != nil {
			err = s.http.Close()
		}
		if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = cerr
		}
		s.closeErr = err
	})
	return s.closeErr
}
