package metrics

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboard is the Grafana dashboard shipped in examples/.
const dashboard = "../../examples/grafana-dashboard.json"

// exported scrapes the metrics handler, as Prometheus would, and returns
// the names of the metric families it serves.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(&fakeSource{s: status()}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	names := map[string]bool{}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
		}
	}
	if len(names) < 20 {
		t.Fatalf("the scrape served %d metric families", len(names))
	}
	return names
}

// queries walks the dashboard for every PromQL expression: panel targets
// (rows included), annotations and templating queries.
func queries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string            `json:"title"`
		UID    string            `json:"uid"`
		Panels []json.RawMessage `json:"panels"`
		Annots struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", dashboard)
	}
	out := map[string]string{}
	type panel struct {
		Title   string            `json:"title"`
		Type    string            `json:"type"`
		Panels  []json.RawMessage `json:"panels"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboard, err)
			}
			walk(p.Panels)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q, query %s: empty", p.Title, tg.RefID)
				}
				out["panel "+p.Title+" "+tg.RefID] = tg.Expr
			}
		}
	}
	walk(d.Panels)
	for _, a := range d.Annots.List {
		out["annotation "+a.Name] = a.Expr
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		switch q := v.Query.(type) {
		case string:
			out["variable "+v.Name] = q
		case map[string]any:
			s, _ := q["query"].(string)
			out["variable "+v.Name] = s
		}
	}
	return out
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promLabels   = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promLabelFn  = regexp.MustCompile(`\blabel_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// promWords are PromQL's functions, aggregations and keywords that
	// the dashboard may use; anything else is a metric name.
	promWords = []string{"sum", "min", "max", "avg", "count", "topk", "bottomk", "rate", "irate", "increase",
		"delta", "abs", "clamp_min", "clamp_max", "time", "vector", "scalar", "and", "or", "unless", "bool", "offset"}
)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	var names []string
	e := promLabelFn.ReplaceAllStringFunc(expr, func(s string) string {
		names = append(names, promLabelFn.FindStringSubmatch(s)[1])
		return ""
	})
	e = promString.ReplaceAllString(e, `""`)
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRange.ReplaceAllString(e, " ")
	e = promLabels.ReplaceAllString(e, " ")
	for _, id := range promIdent.FindAllString(e, -1) {
		if !slices.Contains(promWords, id) {
			names = append(names, id)
		}
	}
	return names
}

// Every query of the dashboard names metrics the daemon exports, and only
// those; together they cover what the dashboard is for.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	have := exported(t)
	used := map[string]bool{}
	for where, expr := range queries(t) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			if !have[n] {
				t.Errorf("%s: %q names %s, which the daemon does not export", where, expr, n)
			}
			used[n] = true
		}
	}
	for _, want := range []string{
		"wackamole_members", "wackamole_quorum_have", "wackamole_quorum_need", "wackamole_quorum_ok",
		"wackamole_vip_owner", "wackamole_acquisitions_total", "wackamole_conflicts_total",
		"wackamole_announcements_total", "wackamole_gossip_health_score",
	} {
		if !used[want] {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`sum by (cause) (rate(wackamole_acquisitions_total{job=~"$job", cause="orphaned"}[$__rate_interval])) * 60`, []string{"wackamole_acquisitions_total"}},
		{`wackamole_vips_held{job=~"a|b"} * on (instance) group_left (node) wackamole_node_info`, []string{"wackamole_vips_held", "wackamole_node_info"}},
		{`label_values(wackamole_node_info, job)`, []string{"wackamole_node_info"}},
		{`max(wackamole_vips - on (instance) count by (instance) (wackamole_vip_owner{owner!=""}) or wackamole_vips)`, []string{"wackamole_vips", "wackamole_vip_owner", "wackamole_vips"}},
		{`wackamole_membrs`, []string{"wackamole_membrs"}},
	} {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
