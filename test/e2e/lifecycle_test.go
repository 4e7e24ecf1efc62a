//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/localenv"
)

// wait is the polling deadline for anything the manager does: generous, because the
// machine running the tests may be loaded.
const wait = 60 * time.Second

var (
	keyDB       = client.ObjectKey{Namespace: "demo", Name: "orders-db-password"}
	keyPayments = client.ObjectKey{Namespace: "demo", Name: "payments-api"}
	keySession  = client.ObjectKey{Namespace: "demo", Name: "session-signing-key"}
)

// applySamples applies config/samples/demo with the provider endpoint pointed at the
// emulator.
func (s *suite) applySamples(ctx context.Context) {
	s.t.Helper()
	objs := make([]*unstructured.Unstructured, 0, len(samples))
	for _, o := range samples {
		o = o.DeepCopy()
		if o.GetKind() == "ClusterProviderConfig" {
			if err := unstructured.SetNestedField(o.Object, s.em.URL, "spec", "endpoint"); err != nil {
				s.t.Fatal(err)
			}
		}
		objs = append(objs, o)
	}
	if err := s.env.Apply(ctx, objs...); err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) getMS(ctx context.Context, k client.ObjectKey) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("secrets.csms-operator.io/v1alpha1")
	u.SetKind("ManagedSecret")
	return u, s.env.Client.Get(ctx, k, u)
}

// condition returns status, reason and message of the condition type, and whether it
// was stamped for the current generation.
func condition(u *unstructured.Unstructured, typ string) (status, reason, message string, current bool) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		cm := c.(map[string]any)
		if cm["type"] != typ {
			continue
		}
		og, _, _ := unstructured.NestedInt64(cm, "observedGeneration")
		st, _ := cm["status"].(string)
		r, _ := cm["reason"].(string)
		m, _ := cm["message"].(string)
		return st, r, m, og == u.GetGeneration()
	}
	return "", "", "", false
}

func (s *suite) waitReady(ctx context.Context, k client.ObjectKey, extra func(*unstructured.Unstructured) (bool, string)) *unstructured.Unstructured {
	s.t.Helper()
	var last *unstructured.Unstructured
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		ms, err := s.getMS(ctx, k)
		if err != nil {
			return false, err.Error(), nil
		}
		last = ms
		st, reason, msg, current := condition(ms, "Ready")
		if st != "True" || !current {
			return false, fmt.Sprintf("%s Ready=%q reason=%s message=%q current=%v", k, st, reason, msg, current), nil
		}
		if extra != nil {
			if ok, why := extra(ms); !ok {
				return false, why, nil
			}
		}
		return true, "", nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return last
}

func (s *suite) cloud(region string) csms.Client {
	s.t.Helper()
	c, err := csms.New(csms.Config{Region: region, Endpoint: s.em.RegionURLs[region], ProjectID: s.acct.projects[region],
		Credentials: csms.StaticCredentials{AccessKey: s.acct.ak, SecretKey: s.acct.sk}})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *suite) sourceValue(ctx context.Context, name, key string) string {
	s.t.Helper()
	sec := &corev1.Secret{}
	if err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: "demo", Name: name}, sec); err != nil {
		s.t.Fatal(err)
	}
	return string(sec.Data[key])
}

// cloudText reads the current value; the test compares it but never prints it.
func cloudText(ctx context.Context, t *testing.T, c csms.Client, name string) (string, string) {
	t.Helper()
	v, version, err := c.GetCurrentValue(ctx, name)
	if err != nil {
		t.Fatalf("reading the current value of %s: %v", name, err)
	}
	txt, ok := v.Text()
	if !ok {
		t.Fatalf("%s holds a binary value, want text", name)
	}
	return txt, version
}

// TestSampleLifecycle: create, source change, replica sync, delete, with the manager
// running as the shipped ServiceAccount under the shipped RBAC.
func TestSampleLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newSuite(t, setupOptions{})
	s.applySamples(ctx)
	primary := s.cloud(primaryRegion)

	// Leader election ran under the shipped leader-election Role: the Lease is held.
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		lease := &coordinationv1.Lease{}
		if err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: "csms-operator.csms-operator.io"}, lease); err != nil {
			return false, "leader-election Lease: " + err.Error(), nil
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return false, "the leader-election Lease has no holder", nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Create: every sample becomes Ready; the cloud holds the source values.
	db := s.waitReady(ctx, keyDB, nil)
	s.waitReady(ctx, keySession, nil)
	s.waitReady(ctx, keyPayments, func(ms *unstructured.Unstructured) (bool, string) {
		reps, _, _ := unstructured.NestedSlice(ms.Object, "status", "replicas")
		for _, r := range reps {
			rm := r.(map[string]any)
			if rm["region"] == replicaRegion && rm["status"] == "IN_SYNC" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("replica in %s not IN_SYNC yet: %v", replicaRegion, reps)
	})

	// The manager's Events get through under the shipped role (events.k8s.io: create only).
	err = localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		var l eventsv1.EventList
		if err := s.env.Client.List(ctx, &l, client.InNamespace(keyDB.Namespace)); err != nil {
			return false, "listing Events: " + err.Error(), nil
		}
		for _, e := range l.Items {
			if e.Regarding.Name == keyDB.Name && e.Reason == "Created" && e.ReportingController == "managedsecret-controller" {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("no Created Event for %s among %d Events", keyDB, len(l.Items)), nil
	})
	if err != nil {
		t.Fatal(err)
	}

	got, v1 := cloudText(ctx, t, primary, "orders-db-password")
	if got != s.sourceValue(ctx, "orders-db", "password") {
		t.Fatal("the CSMS value of orders-db-password differs from Secret orders-db key password")
	}
	if sv, _, _ := unstructured.NestedString(db.Object, "status", "currentVersionID"); sv != v1 {
		t.Fatalf("status.currentVersionID = %q, CSMS says %q", sv, v1)
	}
	var whole map[string]string
	txt, _ := cloudText(ctx, t, primary, "payments-api")
	if err := json.Unmarshal([]byte(txt), &whole); err != nil {
		t.Fatalf("payments-api is not a JSON object of the Secret's keys: %v", err)
	}
	if whole["token"] != s.sourceValue(ctx, "payments-api", "token") || whole["endpoint"] != s.sourceValue(ctx, "payments-api", "endpoint") || len(whole) != 2 {
		t.Fatalf("payments-api JSON has keys %v; want exactly endpoint and token with the Secret's values", keys(whole))
	}
	gen, _ := cloudText(ctx, t, primary, "demo-session-signing-key")
	if len(gen) != 48 {
		t.Fatalf("generated value has length %d, want 48", len(gen))
	}
	sec, err := primary.GetSecret(ctx, "orders-db-password")
	if err != nil {
		t.Fatal(err)
	}
	tags, err := primary.ListTags(ctx, sec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tags["managed-by"] != "csms-operator" || tags["team"] != "orders" {
		t.Fatalf("tags of orders-db-password = %v; want managed-by=csms-operator and team=orders", tags)
	}

	// Replica: the second region holds the secret.
	rep, err := s.cloud(replicaRegion).GetSecret(ctx, "payments-api")
	if err != nil {
		t.Fatalf("payments-api in %s: %v", replicaRegion, err)
	}
	if rep.State != csms.StateEnabled {
		t.Fatalf("replica state %q, want ENABLED", rep.State)
	}

	// Source change: a new version with the new value, at once (no resync wait: the
	// ManagedSecret's resyncInterval is the default 10m).
	const canary = "e2e-canary-value-7f3a9c"
	src := &corev1.Secret{}
	if err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "orders-db"}, src); err != nil {
		t.Fatal(err)
	}
	src.Data["password"] = []byte(canary)
	if err := s.env.Client.Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	s.waitReady(ctx, keyDB, func(ms *unstructured.Unstructured) (bool, string) {
		v, _, _ := unstructured.NestedString(ms.Object, "status", "currentVersionID")
		return v != "" && v != v1, fmt.Sprintf("currentVersionID still %q", v)
	})
	got, v2 := cloudText(ctx, t, primary, "orders-db-password")
	if got != canary {
		t.Fatal("after the source change, the CSMS value is not the new source value")
	}
	if v2 == v1 {
		t.Fatalf("version did not change: %s", v2)
	}

	// Delete: the finalizer goes once CSMS has scheduled the deletion (the default
	// deletionPolicy Delete with a 30-day recovery window).
	for _, k := range []client.ObjectKey{keyDB, keyPayments, keySession} {
		ms, err := s.getMS(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.env.Client.Delete(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	err = localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		for _, k := range []client.ObjectKey{keyDB, keyPayments, keySession} {
			ms, err := s.getMS(ctx, k)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return false, err.Error(), nil
			}
			_, reason, msg, _ := condition(ms, "Ready")
			return false, fmt.Sprintf("%s still exists (finalizers %v, Ready reason %s: %s)", k, ms.GetFinalizers(), reason, msg), nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders-db-password", "payments-api", "demo-session-signing-key"} {
		sec, err := primary.GetSecret(ctx, name)
		if err != nil {
			t.Fatalf("%s after delete: %v", name, err)
		}
		if sec.State != csms.StatePendingDelete {
			t.Fatalf("%s state %q after delete, want PENDING_DELETE", name, sec.State)
		}
	}

	// The shipped RBAC sufficed: no API call of the manager was refused, and no value
	// reached its log.
	logBytes, err := os.ReadFile(s.mgr.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	logText := string(logBytes)
	if strings.Contains(strings.ToLower(logText), "forbidden") {
		t.Errorf("the manager log shows refused API calls; the shipped RBAC lacks a rule:\n%s", grep(logText, "forbidden"))
	}
	if strings.Contains(logText, canary) {
		t.Error("the manager log contains a secret value")
	}
}

// TestMetricsEndpointAuthorisation: the HTTPS metrics endpoint works with the shipped
// metrics-auth RBAC: a token bound to the metrics-reader ClusterRole gets metrics, one
// without it gets 403, and no token or an invalid one gets 401.
func TestMetricsEndpointAuthorisation(t *testing.T) {
	ctx := context.Background()
	s := newSuite(t, setupOptions{})
	scraperTok := s.serviceAccountToken(ctx, "scraper", true)
	strangerTok := s.serviceAccountToken(ctx, "stranger", false)
	// RBAC changes reach the authorizer within moments; poll rather than assume.
	err := localenv.Poll(ctx, wait, func(context.Context) (bool, string, error) {
		code, body := s.scrape(ctx, scraperTok)
		if code != http.StatusOK {
			return false, fmt.Sprintf("scraper got %d: %.200s", code, body), nil
		}
		if !strings.Contains(body, "controller_runtime_") {
			return false, "metrics body lacks controller_runtime_ metrics", nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := s.scrape(ctx, strangerTok); code != http.StatusForbidden {
		t.Fatalf("a token without metrics-reader got %d, want 403: %.200s", code, body)
	}
	if code, body := s.scrape(ctx, ""); code != http.StatusUnauthorized {
		t.Fatalf("a request without a token got %d, want 401: %.200s", code, body)
	}
	// A token the TokenReview refuses is a 401 like no token (internal/metricsauth;
	// controller-runtime's filter answered 500 "Authentication failed").
	if code, body := s.scrape(ctx, "not-a-token"); code != http.StatusUnauthorized || strings.Contains(body, "controller_runtime_") {
		t.Fatalf("a request with an invalid token got %d, want 401 and no metrics: %.200s", code, body)
	}
}

// TestMissingRBACRuleFailsVisibly removes "get" on Secrets from the shipped manager
// ClusterRole: the manager can no longer read value sources or credentials, and the
// ManagedSecret must say so in its conditions (not hang silently). Restoring the rule
// heals it, which shows that the rule, and nothing else, was the cause.
func TestMissingRBACRuleFailsVisibly(t *testing.T) {
	ctx := context.Background()
	var original *unstructured.Unstructured
	s := newSuite(t, setupOptions{mutate: func(objs []*unstructured.Unstructured) {
		for _, o := range objs {
			if o.GetKind() == "ClusterRole" && o.GetName() == managerRole {
				original = o.DeepCopy()
				if !removeVerb(t, o, "", "secrets", "get") {
					t.Fatalf("%s grants no get on secrets; nothing to remove", managerRole)
				}
			}
		}
	}})
	if original == nil {
		t.Fatalf("config/default has no ClusterRole %s", managerRole)
	}
	s.applySamples(ctx)

	var msg string
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		ms, err := s.getMS(ctx, keyDB)
		if err != nil {
			return false, err.Error(), nil
		}
		if st, _, _, _ := condition(ms, "Ready"); st == "True" {
			return false, "", fmt.Errorf("%s became Ready without permission to read Secrets", keyDB)
		}
		for _, typ := range []string{"Synced", "Ready"} {
			st, reason, m, _ := condition(ms, typ)
			if st == "False" && strings.Contains(strings.ToLower(m), "forbidden") {
				msg = fmt.Sprintf("%s=False reason %s: %s", typ, reason, m)
				return true, "", nil
			}
		}
		st, reason, m, _ := condition(ms, "Synced")
		return false, fmt.Sprintf("no condition names the refused permission yet (Synced=%q %s: %q)", st, reason, m), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("visible failure: %s", msg)
	if _, err := s.cloud(primaryRegion).GetSecret(ctx, "orders-db-password"); err == nil {
		t.Fatal("the cloud secret was created although the source could not be read")
	}

	// Restore the shipped rule; touch the sources so the manager looks again now rather
	// than after its backoff.
	if err := s.env.Apply(ctx, original); err != nil {
		t.Fatal(err)
	}
	for _, k := range []client.ObjectKey{{Namespace: "demo", Name: "orders-db"}, {Namespace: systemNamespace, Name: "csms-credentials"}} {
		sec := &corev1.Secret{}
		if err := s.env.Client.Get(ctx, k, sec); err != nil {
			t.Fatal(err)
		}
		if sec.Annotations == nil {
			sec.Annotations = map[string]string{}
		}
		sec.Annotations["e2e/touched"] = time.Now().Format(time.RFC3339Nano)
		if err := s.env.Client.Update(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	s.waitReady(ctx, keyDB, nil)
}

// removeVerb removes verb on group/resource from a (Cluster)Role, splitting rules that
// cover other resources too. It reports whether anything was removed.
func removeVerb(t *testing.T, role *unstructured.Unstructured, group, resource, verb string) bool {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var out []any
	removed := false
	for _, r := range rules {
		rm := r.(map[string]any)
		groups := strs(rm["apiGroups"])
		resources := strs(rm["resources"])
		verbs := strs(rm["verbs"])
		grants := contains(verbs, verb) || contains(verbs, "*")
		if !contains(groups, group) || !contains(resources, resource) || !grants {
			out = append(out, rm)
			continue
		}
		if contains(verbs, "*") {
			t.Fatalf("rule %v grants *; cannot remove %s", rm, verb)
		}
		removed = true
		if others := without(resources, resource); len(others) > 0 {
			rest := copyRule(rm)
			rest["resources"] = toAny(others)
			out = append(out, rest)
		}
		if vs := without(verbs, verb); len(vs) > 0 {
			narrowed := copyRule(rm)
			narrowed["resources"] = []any{resource}
			narrowed["verbs"] = toAny(vs)
			out = append(out, narrowed)
		}
	}
	if err := unstructured.SetNestedSlice(role.Object, out, "rules"); err != nil {
		t.Fatal(err)
	}
	return removed
}

func copyRule(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func without(l []string, s string) []string {
	var out []string
	for _, x := range l {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(strings.ToLower(l), sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMissingLeaseRuleBlocksLeaderElection removes the Lease rule from the shipped
// leader-election Role: the manager (run with the Deployment's --leader-elect) can never
// become leader, so it reconciles nothing, and its log names the refused permission. This
// is the check that the leader-election Role in config/rbac is load-bearing.
func TestMissingLeaseRuleBlocksLeaderElection(t *testing.T) {
	ctx := context.Background()
	s := newSuite(t, setupOptions{mutate: func(objs []*unstructured.Unstructured) {
		found := false
		for _, o := range objs {
			if o.GetKind() == "Role" && o.GetName() == "csms-operator-leader-election-role" {
				found = removeVerb(t, o, "coordination.k8s.io", "leases", "get") &&
					removeVerb(t, o, "coordination.k8s.io", "leases", "create")
			}
		}
		if !found {
			t.Fatal("config/default has no leader-election Role granting get and create on leases")
		}
	}})
	s.applySamples(ctx)

	err := localenv.Poll(ctx, wait, func(context.Context) (bool, string, error) {
		b, err := os.ReadFile(s.mgr.LogPath)
		if err != nil {
			return false, "", err
		}
		if l := grep(string(b), "forbidden"); strings.Contains(l, "leases") {
			return true, "", nil
		}
		return false, "the manager log does not yet show the refused Lease", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.getMS(ctx, keyDB)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _, _ := condition(ms, "Ready"); st == "True" {
		t.Fatal("a ManagedSecret became Ready although the manager never held the leader lease")
	}
	if _, err := s.cloud(primaryRegion).GetSecret(ctx, "orders-db-password"); err == nil {
		t.Fatal("a cloud secret was created although the manager never held the leader lease")
	}
}
