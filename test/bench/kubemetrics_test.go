package bench

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const apiserverSample = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="secrets.csms-operator.io",resource="managedsecrets",scope="resource",subresource="",verb="POST",version="v1alpha1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="secrets.csms-operator.io",resource="managedsecrets",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 1990
apiserver_request_total{code="409",component="apiserver",dry_run="",group="secrets.csms-operator.io",resource="managedsecrets",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 10
apiserver_request_total{code="200",component="apiserver",dry_run="",group="secrets.csms-operator.io",resource="managedsecrets",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="secrets.csms-operator.io",resource="managedsecrets",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 7
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 3
apiserver_request_duration_seconds_bucket{verb="PATCH",le="0.1"} 99
`

func TestParseRequestTotals(t *testing.T) {
	got, err := parseRequestTotals(strings.NewReader(apiserverSample))
	if err != nil {
		t.Fatal(err)
	}
	g := "secrets.csms-operator.io"
	want := ReqCounts{
		{Verb: "POST", Group: g, Resource: "managedsecrets"}:                         1000,
		{Verb: "PATCH", Group: g, Resource: "managedsecrets"}:                        2000, // over codes
		{Verb: "PATCH", Group: g, Resource: "managedsecrets", Subresource: "status"}: 1000, // dry runs left out
		{Verb: "POST", Group: "events.k8s.io", Resource: "events"}:                   1000,
		{Verb: "GET", Resource: "secrets"}:                                           1000,
		{Verb: "PUT", Group: "coordination.k8s.io", Resource: "leases"}:              12,
		{Verb: "GET", Subresource: "/metrics"}:                                       3,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
}

// TestOperatorWrites: the harness's own patches (resync annotations) come off the
// managedsecrets patches, and what the operator's RBAC cannot write (the kube-apiserver's
// own Lease) is not the operator's.
func TestOperatorWrites(t *testing.T) {
	allowed, err := loadRBAC(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	api, err := parseRequestTotals(strings.NewReader(apiserverSample))
	if err != nil {
		t.Fatal(err)
	}
	g := "secrets.csms-operator.io"
	own := ReqCounts{
		{Verb: "POST", Group: g, Resource: "managedsecrets"}:  1000,
		{Verb: "PATCH", Group: g, Resource: "managedsecrets"}: 1000,
		{Verb: "LIST", Group: g, Resource: "managedsecrets"}:  1,
	}
	op, other := operatorWrites(api, own, allowed)
	wantOp := ReqCounts{
		{Verb: "PATCH", Group: g, Resource: "managedsecrets"}:                        1000,
		{Verb: "PATCH", Group: g, Resource: "managedsecrets", Subresource: "status"}: 1000,
		{Verb: "POST", Group: "events.k8s.io", Resource: "events"}:                   1000,
	}
	if d := cmp.Diff(wantOp, op); d != "" {
		t.Errorf("operator's writes -want +got:\n%s", d)
	}
	wantOther := ReqCounts{{Verb: "PUT", Group: "coordination.k8s.io", Resource: "leases"}: 12}
	if d := cmp.Diff(wantOther, other); d != "" {
		t.Errorf("others' writes -want +got:\n%s", d)
	}
	wantPer := map[string]float64{"patch managedsecrets": 1, "patch managedsecrets/status": 1, "create events": 1}
	if d := cmp.Diff(wantPer, op.PerResource(1000)); d != "" {
		t.Errorf("per resource -want +got:\n%s", d)
	}
	reads := operatorReads(api, own, allowed)
	if d := cmp.Diff(map[string]float64{"get secrets": 1}, reads.PerResource(1000)); d != "" {
		t.Errorf("reads -want +got:\n%s", d)
	}
}

func TestRBACAllows(t *testing.T) {
	allowed, err := loadRBAC(filepath.Join("..", "..", "config", "rbac", "role.yaml"), filepath.Join("..", "..", "config", "rbac", "leader_election_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := "secrets.csms-operator.io"
	for k, want := range map[ReqKey]bool{
		{Verb: "PATCH", Group: g, Resource: "managedsecrets", Subresource: "status"}:   true,
		{Verb: "APPLY", Group: g, Resource: "managedsecrets", Subresource: "status"}:   true,
		{Verb: "PUT", Group: g, Resource: "managedsecrets", Subresource: "finalizers"}: true,
		{Verb: "POST", Group: g, Resource: "managedsecrets"}:                           false,
		{Verb: "PATCH", Resource: "secrets"}:                                           false,
		{Verb: "PUT", Group: "coordination.k8s.io", Resource: "leases"}:                true, // with the leader-election Role
	} {
		if got := allowed.Allows(k); got != want {
			t.Errorf("Allows(%s %s) = %v, want %v", k, k.Group, got, want)
		}
	} // The manager's ClusterRole alone writes Events through events.k8s.io only.
	mgrOnly, err := loadRBAC(filepath.Join("..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if mgrOnly.Allows(ReqKey{Verb: "POST", Resource: "events"}) || !mgrOnly.Allows(ReqKey{Verb: "POST", Group: "events.k8s.io", Resource: "events"}) {
		t.Error("role.yaml: want events.k8s.io events and no core events")
	}
}

func TestPerResourceNamesGroupsApart(t *testing.T) {
	c := ReqCounts{
		{Verb: "POST", Resource: "events"}:                         2,
		{Verb: "POST", Group: "events.k8s.io", Resource: "events"}: 4,
	}
	want := map[string]float64{"create events": 1, "create events.events.k8s.io": 2}
	if d := cmp.Diff(want, c.PerResource(2)); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
}

// TestRequestCounter sends requests through the counting transport and checks that each
// lands in the series the kube-apiserver would count it in.
func TestRequestCounter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	rc := newRequestCounter()
	hc := &http.Client{Transport: rc.Wrap(http.DefaultTransport)}
	g := "secrets.csms-operator.io"
	reqs := []struct {
		method, path, ctype string
		want                ReqKey
		counted             bool
	}{
		{"POST", "/apis/" + g + "/v1alpha1/namespaces/bench-0/managedsecrets", "", ReqKey{Verb: "POST", Group: g, Resource: "managedsecrets"}, true},
		{"PATCH", "/apis/" + g + "/v1alpha1/namespaces/bench-0/managedsecrets/ms-1", "application/merge-patch+json", ReqKey{Verb: "PATCH", Group: g, Resource: "managedsecrets"}, true},
		{"PATCH", "/apis/" + g + "/v1alpha1/namespaces/bench-0/managedsecrets/ms-1/status", "application/apply-patch+yaml", ReqKey{Verb: "APPLY", Group: g, Resource: "managedsecrets", Subresource: "status"}, true},
		{"GET", "/apis/" + g + "/v1alpha1/managedsecrets?watch=true&resourceVersion=1", "", ReqKey{Verb: "WATCH", Group: g, Resource: "managedsecrets"}, true},
		{"GET", "/apis/" + g + "/v1alpha1/managedsecrets", "", ReqKey{Verb: "LIST", Group: g, Resource: "managedsecrets"}, true},
		{"GET", "/api/v1/namespaces/bench-1/secrets/ms-1-src", "", ReqKey{Verb: "GET", Resource: "secrets"}, true},
		{"POST", "/api/v1/namespaces", "", ReqKey{Verb: "POST", Resource: "namespaces"}, true},
		{"PUT", "/api/v1/namespaces/bench-1/finalize", "", ReqKey{Verb: "PUT", Resource: "namespaces", Subresource: "finalize"}, true},
		{"PUT", "/apis/" + g + "/v1alpha1/clusterproviderconfigs/bench-0/status", "", ReqKey{Verb: "PUT", Group: g, Resource: "clusterproviderconfigs", Subresource: "status"}, true},
		{"DELETE", "/api/v1/namespaces/bench-1/secrets", "", ReqKey{Verb: "DELETECOLLECTION", Resource: "secrets"}, true},
		{"GET", "/apis/" + g + "/v1alpha1", "", ReqKey{}, false},
		{"GET", "/metrics", "", ReqKey{}, false},
	}
	want := ReqCounts{}
	for _, r := range reqs {
		req, err := http.NewRequest(r.method, srv.URL+r.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.ctype != "" {
			req.Header.Set("Content-Type", r.ctype)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if r.counted {
			want[r.want]++
		}
	}
	if d := cmp.Diff(want, rc.Snapshot()); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
}

func TestPlanReplay(t *testing.T) {
	g := "secrets.csms-operator.io"
	mix := ReqCounts{
		{Verb: "POST", Group: "events.k8s.io", Resource: "events"}:                           1000,
		{Verb: "PATCH", Group: g, Resource: "managedsecrets", Subresource: "status"}:         1003,
		{Verb: "PATCH", Group: g, Resource: "managedsecrets"}:                                2000,
		{Verb: "PATCH", Group: g, Resource: "clusterproviderconfigs", Subresource: "status"}: 2,
	}
	steps, skipped := planReplay(mix)
	var kinds []replayKind
	for _, s := range steps {
		kinds = append(kinds, s.kind)
	}
	if d := cmp.Diff([]replayKind{replayMetaPatch, replayEventCreate, replayStatusPatch}, kinds); d != "" {
		t.Errorf("order -want +got:\n%s", d)
	}
	if d := cmp.Diff(ReqCounts{{Verb: "PATCH", Group: g, Resource: "clusterproviderconfigs", Subresource: "status"}: 2}, skipped); d != "" {
		t.Errorf("skipped -want +got:\n%s", d)
	}
	// 1003 status patches over 1000 resources: three get two, and the sum is exact.
	st := steps[2]
	sum := 0
	for i := 0; i < 1000; i++ {
		c := st.countFor(i, 1000)
		if c != 1 && c != 2 {
			t.Fatalf("resource %d gets %d status patches", i, c)
		}
		sum += c
	}
	if sum != 1003 {
		t.Errorf("%d status patches replayed, want 1003", sum)
	}
}

func TestPickSourceUpdates(t *testing.T) {
	for _, tc := range []struct{ n, m, projects, namespaces int }{
		{50, 20, 1, 10}, {300, 100, 1, 10}, {1000, 100, 2, 10}, {10000, 100, 20, 10}, {100, 100, 1, 10}, {7, 3, 1, 10},
	} {
		idx := pickSourceUpdates(tc.n, tc.m, tc.projects, tc.namespaces)
		if len(idx) != tc.m {
			t.Fatalf("%+v: %d picks", tc, len(idx))
		}
		seen := map[int]bool{}
		for i, x := range idx {
			if x < 0 || x >= tc.n {
				t.Fatalf("%+v: index %d out of range", tc, x)
			}
			if seen[x] {
				t.Fatalf("%+v: item %d picked twice (the bug of issue 14)", tc, x)
			}
			seen[x] = true
			if i > 0 {
				prev := idx[i-1]
				if tc.projects > 1 && x%tc.projects == prev%tc.projects {
					t.Errorf("%+v: picks %d and %d are on the same project", tc, prev, x)
				}
				if x%tc.namespaces == prev%tc.namespaces {
					t.Errorf("%+v: picks %d and %d are in the same namespace", tc, prev, x)
				}
			}
		}
	}
	// More updates than items: every item is updated, none more than twice as often as
	// another.
	idx := pickSourceUpdates(50, 120, 1, 10)
	count := map[int]int{}
	for _, x := range idx {
		count[x]++
	}
	if len(count) != 50 {
		t.Errorf("%d of 50 items updated", len(count))
	}
	for x, c := range count {
		if c < 2 || c > 3 {
			t.Errorf("item %d updated %d times", x, c)
		}
	}
}
