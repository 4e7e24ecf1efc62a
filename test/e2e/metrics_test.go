//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/csms-operator/csms-operator/hack/promql"
	"github.com/csms-operator/csms-operator/internal/localenv"
)

// The shipped dashboard and alerting rules.
const (
	dashboardFile = "config/grafana/csms-operator.json"
	rulesFile     = "config/prometheus/rules.yaml"
)

// synthesized are series Prometheus itself adds to every scrape target; no exporter serves
// them.
var synthesized = map[string]bool{"up": true}

// serviceAccountToken creates the ServiceAccount name in the system namespace, bound to the
// shipped metrics-reader ClusterRole when reader is set, and returns a token of it.
func (s *suite) serviceAccountToken(ctx context.Context, name string, reader bool) string {
	s.t.Helper()
	sa := &corev1.ServiceAccount{}
	sa.Namespace, sa.Name = systemNamespace, name
	if err := s.env.Client.Create(ctx, sa); err != nil {
		s.t.Fatal(err)
	}
	if reader {
		crb := &rbacv1.ClusterRoleBinding{
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "csms-operator-metrics-reader"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: systemNamespace, Name: name}},
		}
		crb.Name = "e2e-" + name + "-metrics-reader"
		if err := s.env.Client.Create(ctx, crb); err != nil {
			s.t.Fatal(err)
		}
	}
	kc := filepath.Join(s.t.TempDir(), "kc")
	if err := s.env.ServiceAccountKubeconfig(ctx, systemNamespace, name, kc, time.Hour); err != nil {
		s.t.Fatal(err)
	}
	cfg, err := localenv.RESTConfigFromKubeconfig(kc)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg.BearerToken
}

// scrape GETs /metrics with the bearer token (none when empty).
func (s *suite) scrape(ctx context.Context, token string) (int, string) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The manager serves a self-signed certificate when none is mounted.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test of a self-signed endpoint
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.metrics+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// seriesNames are the names of the samples in a text-format scrape: a histogram family
// appears as its _bucket, _sum and _count series, which is what PromQL selects.
func seriesNames(body string) map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// namedExpr is a PromQL expression and where it comes from.
type namedExpr struct{ where, expr string }

var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// dashboardExprs returns every query of the dashboard: panel targets (rows included) and
// templating queries (label_values(expr, label) is Grafana's, the expr inside is PromQL).
func dashboardExprs(t *testing.T) []namedExpr {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []namedExpr
	var walk func(ps []dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, namedExpr{fmt.Sprintf("%s panel %q target %s", dashboardFile, p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("%s: variable %s has a query of unknown form: %s", dashboardFile, v.Name, v.Query)
			}
			q = obj.Query
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out = append(out, namedExpr{fmt.Sprintf("%s variable %s", dashboardFile, v.Name), q})
	}
	return out
}

type dashPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

// ruleExprs returns the expression of every rule of the shipped PrometheusRule.
func ruleExprs(t *testing.T) []namedExpr {
	t.Helper()
	objs, err := localenv.ReadManifests(filepath.Join(root, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []namedExpr
	for _, o := range objs {
		if o.GetKind() != "PrometheusRule" {
			continue
		}
		groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "groups")
		for _, g := range groups {
			gm := g.(map[string]any)
			rules, _ := gm["rules"].([]any)
			for _, r := range rules {
				rm := r.(map[string]any)
				name, _ := rm["alert"].(string)
				if name == "" {
					name, _ = rm["record"].(string)
				}
				expr, _ := rm["expr"].(string)
				out = append(out, namedExpr{fmt.Sprintf("%s rule %s", rulesFile, name), expr})
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no PrometheusRule rules", rulesFile)
	}
	return out
}

// TestDashboardAndAlertsUseExportedMetrics: every metric the shipped Grafana dashboard
// and PrometheusRule query is one the manager exports, compared with a live scrape taken
// after the samples converged (so the CSMS API, Event and reconcile series exist).
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	ctx := context.Background()
	s := newSuite(t, setupOptions{})
	s.applySamples(ctx)
	s.waitReady(ctx, keyDB, nil)
	s.waitReady(ctx, keyPayments, func(ms *unstructured.Unstructured) (bool, string) {
		reps, _, _ := unstructured.NestedSlice(ms.Object, "status", "replicas")
		for _, r := range reps {
			if r.(map[string]any)["status"] == "IN_SYNC" {
				return true, ""
			}
		}
		return false, "replica not IN_SYNC yet"
	})
	tok := s.serviceAccountToken(ctx, "scraper", true)
	var body string
	err := localenv.Poll(ctx, wait, func(context.Context) (bool, string, error) {
		code, b := s.scrape(ctx, tok)
		if code != http.StatusOK {
			return false, fmt.Sprintf("scrape got %d: %.200s", code, b), nil
		}
		body = b
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(s.env.Dir, "metrics.txt")
	if err := os.WriteFile(dump, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	exported := seriesNames(body)

	exprs := append(dashboardExprs(t), ruleExprs(t)...)
	used := map[string]bool{}
	for _, e := range exprs {
		names, err := promql.MetricNames(e.expr)
		if err != nil {
			t.Errorf("%s: %v", e.where, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s selects no metric: %q", e.where, e.expr)
		}
		for _, n := range names {
			used[n] = true
			if !exported[n] && !synthesized[n] {
				t.Errorf("%s uses %s, which the manager does not export (scrape in %s)", e.where, n, dump)
			}
		}
	}
	list := make([]string, 0, len(used))
	for n := range used {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("%d expressions use %d metrics, all checked against a scrape of %d series names: %s", len(exprs), len(list), len(exported), strings.Join(list, ", "))
}
