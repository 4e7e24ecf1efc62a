package provider

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// fakeCSMS is a csms.Client that is never called; the resolver only hands it out.
type fakeCSMS struct{ csms.Client }

func TestFailedBuildIsRememberedThenRetried(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "env", UID: "uid-1", Generation: 1},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: "cn-north-4"},
			Credentials:      v1alpha1.ProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pc).Build()

	calls := 0
	failing := true
	factory := func(cfg csms.Config) (csms.Client, error) {
		calls++
		if _, ok := cfg.Credentials.(csms.EnvironmentCredentials); !ok {
			t.Errorf("factory called with %v, want environment credentials", cfg.Credentials)
		}
		if failing {
			return nil, errors.New("unable to get credential in providers")
		}
		return &fakeCSMS{}, nil
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewResolver(kube, kube, WithClientFactory(factory), WithNamespacedEnvironmentCredentials(true))
	r.now = func() time.Time { return now }
	ref := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "env"}
	ctx := context.Background()

	for i := range 3 {
		if _, _, err := r.ClientFor(ctx, "ns", ref); !errors.Is(err, ErrCredentialsNotFound) {
			t.Fatalf("call %d: err = %v, want ErrCredentialsNotFound", i, err)
		}
	}
	if calls != 1 {
		t.Fatalf("factory calls = %d, want 1 (the failure is remembered)", calls)
	}

	// After failedBuildRetry the chain is tried again; now it succeeds.
	failing = false
	now = now.Add(failedBuildRetry + time.Second)
	c1, target, err := r.ClientFor(ctx, "ns", ref)
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if calls != 2 || target.Source != v1alpha1.CredentialsSourceEnvironment {
		t.Fatalf("calls = %d, target = %+v", calls, *target)
	}

	// A working client does not expire.
	now = now.Add(24 * time.Hour)
	c2, _, err := r.ClientFor(ctx, "ns", ref)
	if err != nil || c2 != c1 || calls != 2 {
		t.Fatalf("second client: err=%v same=%v calls=%d", err, c2 == c1, calls)
	}

	// Forget drops it.
	r.Forget(v1alpha1.ProviderConfigKindNamespaced, "ns", "env")
	if c3, _, err := r.ClientFor(ctx, "ns", ref); err != nil || c3 == c1 || calls != 3 {
		t.Fatalf("after Forget: err=%v same=%v calls=%d", err, c3 == c1, calls)
	}
}

func TestRequeue(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notFound := &metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonCredentialsNotFound}
	refused := &metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonEnvironmentNotAllowed}
	ready := &metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable}
	boom := errors.New("boom")
	env, secret := v1alpha1.CredentialsSourceEnvironment, v1alpha1.CredentialsSourceSecret
	tests := []struct {
		name    string
		source  v1alpha1.CredentialsSource
		res     ctrl.Result
		err     error
		ready   *metav1.Condition
		v       *verdict
		want    time.Duration
		wantErr bool
	}{
		{"environment chain empty is rechecked", env, ctrl.Result{}, nil, notFound, nil, envRecheckInterval, false},
		{"environment refused for a namespace is not", env, ctrl.Result{}, nil, refused, nil, 0, false},
		{"accepted Secret source waits for the watch", secret, ctrl.Result{}, nil, ready, &verdict{}, 0, false},
		{"secret source without a verdict waits for the watch", secret, ctrl.Result{}, nil, notFound, nil, 0, false},
		{"a verdict comes back when it expires", env, ctrl.Result{}, nil, ready, &verdict{expires: now.Add(40 * time.Second)}, 40 * time.Second, false},
		{"an expired verdict comes back soon", secret, ctrl.Result{}, nil, ready, &verdict{expires: now.Add(-time.Second)}, time.Second, false},
		{"errors keep their backoff", env, ctrl.Result{}, boom, notFound, &verdict{expires: now.Add(time.Minute)}, 0, true},
		{"a shorter requeue is kept", env, ctrl.Result{RequeueAfter: time.Second}, nil, notFound, nil, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := requeue(tt.source, tt.res, tt.err, tt.ready, tt.v, now)
			if (err != nil) != tt.wantErr || res.RequeueAfter != tt.want {
				t.Errorf("got (%v, %v), want RequeueAfter %v, err %v", res.RequeueAfter, err, tt.want, tt.wantErr)
			}
		})
	}
}

// verifyingCSMS is a csms.Client whose credentials check returns the next error of errs
// (nil when they run out) and counts its calls.
type verifyingCSMS struct {
	csms.Client
	errs  []error
	calls int
}

func (v *verifyingCSMS) VerifyCredentials(context.Context) error {
	v.calls++
	if len(v.errs) == 0 {
		return nil
	}
	err := v.errs[0]
	v.errs = v.errs[1:]
	return err
}

// TestVerifyRemembersVerdicts walks one cache entry through the verdicts of its checks,
// with a controlled clock: what is remembered, for how long, and what is not.
func TestVerifyRemembersVerdicts(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewResolver(nil, nil)
	r.now = func() time.Time { return now }
	unauthorized := &csms.APIError{Operation: "ListSecrets", StatusCode: 401, Code: "APIGW.0301", Message: "access key CANARY-AK-7f3e9c1d", Kind: csms.ErrUnauthorized}
	refused := &csms.APIError{Operation: "ListSecrets", Kind: csms.ErrTransient, Message: "connection failed before the request was sent",
		Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}
	throttled := &csms.APIError{Operation: "ListSecrets", StatusCode: 429, Kind: csms.ErrThrottled}
	ctx := context.Background()

	t.Run("Secret source", func(t *testing.T) {
		fc := &verifyingCSMS{errs: []error{unauthorized, throttled, refused, refused, refused}}
		e := &cacheEntry{client: fc, target: Target{Kind: v1alpha1.ProviderConfigKindNamespaced, Namespace: "ns", Name: "p",
			Key: "ProviderConfig/ns/p", Region: "cn-north-4", ProjectID: projectID, Endpoint: "http://csms.example:1",
			Source: v1alpha1.CredentialsSourceSecret, CredentialsSecret: types.NamespacedName{Namespace: "ns", Name: "creds"}}}
		step := func(wantCalls int, wantErr error) verdict {
			t.Helper()
			v, err := r.verify(ctx, e)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if fc.calls != wantCalls {
				t.Fatalf("checks = %d, want %d", fc.calls, wantCalls)
			}
			if wantErr == nil && v.err != nil || wantErr != nil && !errors.Is(v.err, wantErr) {
				t.Fatalf("verdict %v, want %v", v.err, wantErr)
			}
			return v
		}

		v := step(1, errUnauthorized)
		if containsCanary(v.err.Error()) || !strings.Contains(v.err.Error(), "HTTP 401 APIGW.0301") {
			t.Errorf("refusal message %q: want status and code, never the service's text", v.err.Error())
		}
		if !errors.Is(v.err, csms.ErrUnauthorized) {
			t.Error("the refusal does not unwrap to the csms error")
		}
		step(1, errUnauthorized) // remembered
		now = now.Add(unauthorizedRecheck)

		// Throttled says nothing about the credentials: an error, nothing remembered.
		if _, err := r.verify(ctx, e); !errors.Is(err, csms.ErrThrottled) || fc.calls != 2 {
			t.Fatalf("throttled: err = %v, calls = %d", err, fc.calls)
		}
		v = step(3, errEndpointUnreachable)
		if want := `CSMS endpoint "http://csms.example:1" of ProviderConfig "p" in namespace "ns" could not be reached to check its credentials (connection refused)`; !strings.HasPrefix(v.err.Error(), want) {
			t.Errorf("unreachable message %q, want prefix %q", v.err.Error(), want)
		}
		if d := v.requeueAfter(now); d != unreachableRetry {
			t.Errorf("first retry after %v, want %v", d, unreachableRetry)
		}
		step(3, errEndpointUnreachable) // remembered until then
		now = now.Add(unreachableRetry)
		v = step(4, errEndpointUnreachable)
		if d := v.requeueAfter(now); d != maxUnreachableRetry {
			t.Errorf("second retry after %v, want %v", d, maxUnreachableRetry)
		}
		now = now.Add(maxUnreachableRetry)
		if v = step(5, errEndpointUnreachable); v.requeueAfter(now) != maxUnreachableRetry {
			t.Errorf("third retry after %v, want it capped at %v", v.requeueAfter(now), maxUnreachableRetry)
		}
		now = now.Add(maxUnreachableRetry)

		// Accepted: remembered for good (a new Secret version is a new entry).
		v = step(6, nil)
		if !v.expires.IsZero() {
			t.Errorf("accepted Secret-source verdict expires at %v, want never", v.expires)
		}
		now = now.Add(1000 * time.Hour)
		step(6, nil)
	})

	t.Run("Environment source", func(t *testing.T) {
		fc := &verifyingCSMS{errs: []error{nil, refused}}
		e := &cacheEntry{client: fc, target: Target{Kind: v1alpha1.ProviderConfigKindCluster, Name: "env",
			Key: "ClusterProviderConfig/env", Region: "cn-north-4", Source: v1alpha1.CredentialsSourceEnvironment}}
		v, err := r.verify(ctx, e)
		if err != nil || v.err != nil || v.requeueAfter(now) != envRecheckInterval {
			t.Fatalf("accepted: %v / %v, requeue %v", err, v.err, v.requeueAfter(now))
		}
		if _, _ = r.verify(ctx, e); fc.calls != 1 {
			t.Fatalf("checks within envRecheckInterval = %d, want 1", fc.calls)
		}
		now = now.Add(envRecheckInterval)
		// A recheck that cannot reach CSMS keeps the accepted verdict, and retries soon.
		v, err = r.verify(ctx, e)
		if err != nil || v.err != nil || fc.calls != 2 {
			t.Fatalf("unreachable recheck of accepted credentials: %v / %v, calls %d", err, v.err, fc.calls)
		}
		if d := v.requeueAfter(now); d != unreachableRetry {
			t.Errorf("retry after %v, want %v", d, unreachableRetry)
		}
		if msg := readyCondition(&e.target, v.err).Message; !strings.Contains(msg, "credential chain") {
			t.Errorf("Ready message %q", msg)
		}
	})

	t.Run("a client that cannot verify", func(t *testing.T) {
		e := &cacheEntry{client: &fakeCSMS{}, target: Target{Key: "ProviderConfig/ns/x"}}
		if _, err := r.verify(ctx, e); err == nil || IsConfigError(err) || isCheckError(err) {
			t.Errorf("err = %v, want a transient error", err)
		}
	})
}

// TestNamespacedEnvironmentNeedsTheOption: the resolver refuses a namespaced Environment
// config before building anything, unless WithNamespacedEnvironmentCredentials(true);
// cluster configs keep Environment either way.
func TestNamespacedEnvironmentNeedsTheOption(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "env", UID: "uid-1", Generation: 1},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: "cn-north-4"},
			Credentials:      v1alpha1.ProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	cpc := &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "env", UID: "uid-2", Generation: 1},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: "cn-north-4"},
			Credentials:      v1alpha1.ClusterProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pc, cpc).Build()
	pcRef := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "env"}
	cpcRef := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "env"}
	ctx := context.Background()

	for _, allow := range []bool{false, true} {
		builds := 0
		factory := func(csms.Config) (csms.Client, error) { builds++; return &fakeCSMS{}, nil }
		r := NewResolver(kube, kube, WithClientFactory(factory), WithNamespacedEnvironmentCredentials(allow))
		_, _, err := r.ClientFor(ctx, "ns", pcRef)
		switch {
		case !allow && (!errors.Is(err, ErrEnvironmentNotAllowed) || builds != 0):
			t.Errorf("without the option: err = %v, builds = %d; want ErrEnvironmentNotAllowed and no build", err, builds)
		case allow && (err != nil || builds != 1):
			t.Errorf("with the option: err = %v, builds = %d", err, builds)
		}
		if _, _, err := r.ClientFor(ctx, "ns", cpcRef); err != nil {
			t.Errorf("cluster config, allow=%v: %v", allow, err)
		}
	}
}
