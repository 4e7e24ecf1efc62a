package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// ReqKey is one series of the kube-apiserver's apiserver_request_total, summed over
// version, scope, component, dry run and response code.
type ReqKey struct {
	// Verb is the metric's: POST, PUT, PATCH, APPLY, DELETE, DELETECOLLECTION, GET,
	// LIST, WATCH, CONNECT.
	Verb, Group, Resource, Subresource string
}

// verbNames turns the metric's verbs into the words RBAC and kubectl use.
var verbNames = map[string]string{
	"POST": "create", "PUT": "update", "PATCH": "patch", "APPLY": "apply", "DELETE": "delete",
	"DELETECOLLECTION": "deletecollection", "GET": "get", "LIST": "list", "WATCH": "watch", "CONNECT": "connect",
}

// IsWrite: everything but GET, LIST and WATCH changes (or tries to change) stored state.
func (k ReqKey) IsWrite() bool {
	switch k.Verb {
	case "GET", "LIST", "WATCH":
		return false
	}
	return k.Resource != ""
}

// rbacVerb is the RBAC verb a request needs (server-side apply is a patch).
func (k ReqKey) rbacVerb() string {
	if k.Verb == "APPLY" {
		return "patch"
	}
	return verbNames[k.Verb]
}

// String is "verb resource[/subresource]", e.g. "patch managedsecrets/status".
func (k ReqKey) String() string {
	v := verbNames[k.Verb]
	if v == "" {
		v = strings.ToLower(k.Verb)
	}
	r := k.Resource
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	return v + " " + r
}

// ReqCounts counts requests by series.
type ReqCounts map[ReqKey]float64

// Sub returns c minus before, dropping zeros.
func (c ReqCounts) Sub(before ReqCounts) ReqCounts {
	out := ReqCounts{}
	for k, v := range c {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	for k, v := range before {
		if _, ok := c[k]; !ok && v != 0 {
			out[k] = -v
		}
	}
	return out
}

// Filter keeps the series for which keep is true.
func (c ReqCounts) Filter(keep func(ReqKey) bool) ReqCounts {
	out := ReqCounts{}
	for k, v := range c {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// Total sums the counts.
func (c ReqCounts) Total() float64 {
	t := 0.0
	for _, v := range c {
		t += v
	}
	return t
}

// PerResource divides every count by n and names the series as ReqKey.String does. Two
// groups with the same resource name (core and events.k8s.io events) get the group added
// to the non-core one's name.
func (c ReqCounts) PerResource(n int) map[string]float64 {
	out := map[string]float64{}
	names := c.names()
	for k, v := range c {
		out[names[k]] = round(v/float64(n), 3)
	}
	return out
}

func (c ReqCounts) names() map[ReqKey]string {
	groups := map[string]map[string]bool{}
	for k := range c {
		if groups[k.Resource] == nil {
			groups[k.Resource] = map[string]bool{}
		}
		groups[k.Resource][k.Group] = true
	}
	out := map[ReqKey]string{}
	for k := range c {
		name := k.String()
		if len(groups[k.Resource]) > 1 && k.Group != "" {
			v, r, _ := strings.Cut(name, " ")
			res, sub, hasSub := strings.Cut(r, "/")
			name = v + " " + res + "." + k.Group
			if hasSub {
				name += "/" + sub
			}
		}
		out[k] = name
	}
	return out
}

// String lists the series, largest first, for logs.
func (c ReqCounts) String() string {
	names := c.names()
	keys := make([]ReqKey, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c[keys[i]] != c[keys[j]] {
			return c[keys[i]] > c[keys[j]]
		}
		return names[keys[i]] < names[keys[j]]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%g", names[k], c[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// parseRequestTotals reads apiserver_request_total from a Prometheus text exposition.
func parseRequestTotals(r io.Reader) (ReqCounts, error) {
	const name = "apiserver_request_total{"
	out := ReqCounts{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		j := strings.LastIndexByte(line, '}')
		if j < 0 {
			return nil, fmt.Errorf("malformed sample %q", line)
		}
		labels := parseLabels(line[len(name):j])
		f := strings.Fields(line[j+1:])
		if len(f) == 0 {
			return nil, fmt.Errorf("sample without a value %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		if labels["dry_run"] != "" {
			continue // nothing was stored
		}
		out[ReqKey{Verb: labels["verb"], Group: labels["group"], Resource: labels["resource"], Subresource: labels["subresource"]}] += v
	}
	return out, sc.Err()
}

// parseLabels splits `a="x",b="y"`; label values of this metric hold no quotes or commas.
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.Trim(v, `"`)
	}
	return out
}

// apiserverMetrics scrapes the kube-apiserver's /metrics as the given (admin) identity.
type apiserverMetrics struct {
	hc  *http.Client
	url string
}

func newAPIServerMetrics(cfg *rest.Config) (*apiserverMetrics, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building an HTTP client for the kube-apiserver: %w", err)
	}
	return &apiserverMetrics{hc: hc, url: strings.TrimSuffix(cfg.Host, "/") + "/metrics"}, nil
}

// Requests returns the current apiserver_request_total counts.
func (m *apiserverMetrics) Requests(ctx context.Context) (ReqCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping the kube-apiserver's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping the kube-apiserver's metrics: HTTP %d", resp.StatusCode)
	}
	return parseRequestTotals(resp.Body)
}

// requestCounter counts the harness's own requests to the kube-apiserver, keyed as the
// apiserver's metric keys them, so they can be taken out of its deltas: the metric has no
// label for the client.
type requestCounter struct {
	mu sync.Mutex
	c  ReqCounts
}

func newRequestCounter() *requestCounter { return &requestCounter{c: ReqCounts{}} }

// Snapshot returns a copy of the counts so far.
func (rc *requestCounter) Snapshot() ReqCounts {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(ReqCounts, len(rc.c))
	for k, v := range rc.c {
		out[k] = v
	}
	return out
}

// Wrap is a rest.Config WrapTransport.
func (rc *requestCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if k, ok := classifyRequest(req); ok {
			rc.mu.Lock()
			rc.c[k]++
			rc.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// classifyRequest maps a request to the series the kube-apiserver counts it in; false for
// non-resource requests (discovery, /metrics, /healthz).
func classifyRequest(req *http.Request) (ReqKey, bool) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var k ReqKey
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		k.Group, parts = parts[1], parts[3:]
	default:
		return k, false
	}
	if len(parts) == 0 {
		return k, false // discovery of a group version
	}
	var name string
	// namespaces/<ns>/<resource>… except a namespace's own subresources.
	if parts[0] == "namespaces" && len(parts) >= 3 && (len(parts) != 3 || parts[2] != "status" && parts[2] != "finalize") {
		parts = parts[2:]
	}
	k.Resource = parts[0]
	if len(parts) > 1 {
		name = parts[1]
	}
	if len(parts) > 2 {
		k.Subresource = parts[2]
	}
	q := req.URL.Query()
	switch req.Method {
	case http.MethodGet:
		switch {
		case q.Get("watch") == "true" || q.Get("watch") == "1":
			k.Verb = "WATCH"
		case name == "":
			k.Verb = "LIST"
		default:
			k.Verb = "GET"
		}
	case http.MethodPatch:
		k.Verb = "PATCH"
		if req.Header.Get("Content-Type") == "application/apply-patch+yaml" {
			k.Verb = "APPLY"
		}
	case http.MethodDelete:
		k.Verb = "DELETE"
		if name == "" {
			k.Verb = "DELETECOLLECTION"
		}
	default:
		k.Verb = req.Method
	}
	return k, true
}

// rbacRules is the set of requests the operator's RBAC allows: the only Kubernetes writes
// it can make in a cluster. The harness runs the manager as an admin, so the kube-
// apiserver's own requests (it renews its identity Lease every 10 s) are told apart
// from the operator's by this set.
type rbacRules map[string]bool // "group|resource[/sub]|verb"

// loadRBAC reads the ClusterRole and Role manifests given (config/rbac/role.yaml,
// and the leader-election Role when the manager runs with --leader-elect).
func loadRBAC(paths ...string) (rbacRules, error) {
	out := rbacRules{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the operator's RBAC: %w", err)
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var role rbacv1.ClusterRole // a Role has the same rules field
			if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
				return nil, fmt.Errorf("parsing %s: %w", filepath.Base(p), err)
			}
			for _, r := range role.Rules {
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						for _, v := range r.Verbs {
							out[g+"|"+res+"|"+v] = true
						}
					}
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no RBAC rules in %v", paths)
	}
	return out, nil
}

// Allows reports whether the rules grant the request.
func (w rbacRules) Allows(k ReqKey) bool {
	res := k.Resource
	if k.Subresource != "" {
		res += "/" + k.Subresource
	}
	v := k.rbacVerb()
	for _, g := range []string{k.Group, "*"} {
		for _, r := range []string{res, "*"} {
			if w[g+"|"+r+"|"+v] || w[g+"|"+r+"|*"] {
				return true
			}
		}
	}
	return false
}

// operatorWrites is what the operator wrote between two scrapes of the kube-apiserver's
// request counters: the writes its RBAC allows, minus the harness's own requests in the
// same window (e.g. its resync annotations, which are patches of managedsecrets too).
// other holds the writes nobody in the harness made and the operator could not make.
func operatorWrites(apiDelta, ownDelta ReqCounts, allowed rbacRules) (op, other ReqCounts) {
	op, other = ReqCounts{}, ReqCounts{}
	for k, v := range apiDelta.Sub(ownDelta) {
		if !k.IsWrite() || v == 0 {
			continue
		}
		if allowed.Allows(k) {
			op[k] = v
		} else {
			other[k] = v
		}
	}
	return op, other
}

// operatorReads is the same for GETs (LIST and WATCH are the informers' start, not per
// resource); the kube-apiserver's own reads (endpoints) are told apart the same way.
func operatorReads(apiDelta, ownDelta ReqCounts, allowed rbacRules) ReqCounts {
	return apiDelta.Sub(ownDelta).Filter(func(k ReqKey) bool { return k.Verb == "GET" && k.Resource != "" && allowed.Allows(k) })
}
