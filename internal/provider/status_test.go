package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

func TestReadyCondition(t *testing.T) {
	secretTarget := &Target{Source: v1alpha1.CredentialsSourceSecret, CredentialsSecret: types.NamespacedName{Namespace: "ns", Name: "creds"}}
	envTarget := &Target{Source: v1alpha1.CredentialsSourceEnvironment}
	credsErr := newError(ErrCredentialsNotFound, `credentials Secret "creds" in namespace "ns" of ProviderConfig "p" not found; create it`)
	invalidErr := &resolveError{kind: ErrConfigInvalid, msg: "bad selector", cause: errors.New("boom")}
	envErr := newError(ErrEnvironmentNotAllowed, "refused: use a Secret")
	unauthorizedErr := &resolveError{kind: errUnauthorized, msg: "CSMS refused", cause: csms.ErrUnauthorized}
	unreachableErr := &resolveError{kind: errEndpointUnreachable, msg: "could not be reached", cause: csms.ErrTransient}

	tests := []struct {
		name   string
		target *Target
		err    error
		want   metav1.Condition
	}{
		{
			name:   "secret source accepted",
			target: secretTarget,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable,
				Message: `CSMS accepted the credentials in Secret "creds" in namespace "ns"`},
		},
		{
			name:   "environment source accepted",
			target: envTarget,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable,
				Message: "CSMS accepted the credentials of the manager's SDK credential chain (environment variables, profile, ECS agency, CCE pod identity)"},
		},
		{
			name: "credentials refused", target: secretTarget, err: unauthorizedErr,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonUnauthorized, Message: "CSMS refused"},
		},
		{
			name: "endpoint unreachable", target: secretTarget, err: unreachableErr,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonEndpointUnreachable, Message: "could not be reached"},
		},
		{
			name: "namespaced environment refused", err: envErr,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonEnvironmentNotAllowed, Message: "refused: use a Secret"},
		},
		{
			name: "credentials missing",
			err:  credsErr,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonCredentialsNotFound,
				Message: credsErr.Error()},
		},
		{
			name: "credentials missing, wrapped",
			err:  fmt.Errorf("outer: %w", credsErr),
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonCredentialsNotFound,
				Message: "outer: " + credsErr.Error()},
		},
		{
			name: "invalid config",
			err:  invalidErr,
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonInvalidSpec, Message: "bad selector"},
		},
		{
			name: "unexpected error keeps a generic message",
			err:  errors.New("dial tcp: connection refused"),
			want: metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonReconcileError,
				Message: "The provider configuration could not be checked; it is retried"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, readyCondition(tt.target, tt.err)); diff != "" {
				t.Errorf("readyCondition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorsMatchTheirSentinelOnly(t *testing.T) {
	sentinels := []error{ErrConfigNotFound, ErrNamespaceNotAllowed, ErrCredentialsNotFound, ErrConfigInvalid, ErrEnvironmentNotAllowed}
	cause := errors.New("cause")
	for _, kind := range sentinels {
		err := &resolveError{kind: kind, msg: "m", cause: cause}
		for _, other := range sentinels {
			if got := errors.Is(err, other); got != (other == kind) {
				t.Errorf("errors.Is(%v, %v) = %v", kind, other, got)
			}
		}
		if !errors.Is(err, cause) {
			t.Errorf("%v does not unwrap to its cause", kind)
		}
		if err.Error() != "m" {
			t.Errorf("message = %q, want the message alone", err.Error())
		}
		if !IsConfigError(err) || !IsConfigError(fmt.Errorf("wrapped: %w", err)) {
			t.Errorf("IsConfigError(%v) = false", kind)
		}
	}
	if IsConfigError(errors.New("transient")) {
		t.Error("IsConfigError(transient) = true")
	}
	// The check's verdicts are conditions of the config, not errors of ClientFor.
	for _, kind := range []error{errUnauthorized, errEndpointUnreachable} {
		err := &resolveError{kind: kind, msg: "m"}
		if IsConfigError(err) || !isCheckError(err) || !isCheckError(fmt.Errorf("wrapped: %w", err)) {
			t.Errorf("%v: IsConfigError=%v isCheckError=%v", kind, IsConfigError(err), isCheckError(err))
		}
	}
}

func TestBuildErrorIsSafeAndClassified(t *testing.T) {
	rc := &resolvedConfig{target: Target{Kind: v1alpha1.ProviderConfigKindNamespaced, Namespace: "ns", Name: "p"}}

	// A factory error that (hypothetically) echoes the keys: they are scrubbed.
	secretCfg := csms.Config{Credentials: csms.StaticCredentials{AccessKey: canaryAK, SecretKey: canarySK, SecurityToken: canaryToken}}
	err := buildError(rc, secretCfg, fmt.Errorf("bad\n  input %s/%s/%s", canaryAK, canarySK, canaryToken))
	if !errors.Is(err, ErrConfigInvalid) {
		t.Errorf("Secret source: err = %v, want ErrConfigInvalid", err)
	}
	if containsCanary(err.Error()) {
		t.Error("Secret source: message contains a canary credential")
	}
	if !strings.Contains(err.Error(), `ProviderConfig "p" in namespace "ns"`) || !strings.Contains(err.Error(), "bad input [redacted]/") {
		t.Errorf("message = %q", err.Error())
	}

	// With the Environment source a failing chain means missing credentials; values
	// from the SDK's environment variables are scrubbed too.
	t.Setenv("HUAWEICLOUD_SDK_SK", canarySK)
	envRC := &resolvedConfig{target: rc.target}
	envRC.target.Source = v1alpha1.CredentialsSourceEnvironment
	err = buildError(envRC, csms.Config{Credentials: csms.EnvironmentCredentials{}}, fmt.Errorf("unable to get credential in providers:\n%s", canarySK))
	if !errors.Is(err, ErrCredentialsNotFound) || containsCanary(err.Error()) {
		t.Errorf("Environment source: err = %v", errors.Is(err, ErrCredentialsNotFound))
	}
	if !strings.Contains(err.Error(), "credential chain") {
		t.Errorf("message = %q", err.Error())
	}

	// Long causes are cut.
	err = buildError(rc, csms.Config{}, errors.New(strings.Repeat("x", 5000)))
	if len(err.Error()) > 600 {
		t.Errorf("message is %d bytes long", len(err.Error()))
	}
}
