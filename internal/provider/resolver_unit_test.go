package provider

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
	r := NewResolver(kube, kube, WithClientFactory(factory))
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

func TestRecheckEnvironment(t *testing.T) {
	notReady := &metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse}
	ready := &metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		source  v1alpha1.CredentialsSource
		res     ctrl.Result
		err     error
		ready   *metav1.Condition
		want    time.Duration
		wantErr bool
	}{
		{"environment not ready is rechecked", v1alpha1.CredentialsSourceEnvironment, ctrl.Result{}, nil, notReady, envRecheckInterval, false},
		{"environment ready is not", v1alpha1.CredentialsSourceEnvironment, ctrl.Result{}, nil, ready, 0, false},
		{"secret source waits for the watch", v1alpha1.CredentialsSourceSecret, ctrl.Result{}, nil, notReady, 0, false},
		{"errors keep their backoff", v1alpha1.CredentialsSourceEnvironment, ctrl.Result{}, boom, notReady, 0, true},
		{"a shorter requeue is kept", v1alpha1.CredentialsSourceEnvironment, ctrl.Result{RequeueAfter: time.Second}, nil, notReady, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := recheckEnvironment(tt.source, tt.res, tt.err, tt.ready)
			if (err != nil) != tt.wantErr || res.RequeueAfter != tt.want {
				t.Errorf("got (%v, %v), want RequeueAfter %v, err %v", res.RequeueAfter, err, tt.want, tt.wantErr)
			}
		})
	}
}
