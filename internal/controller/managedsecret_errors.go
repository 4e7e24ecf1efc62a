package controller

import (
	"errors"
	"fmt"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
	"github.com/csms-operator/csms-operator/internal/source"
)

// stepError names the step of a reconcile that failed ("creating replica in
// ap-southeast-3"). Its condition message is the step plus a stable summary of the cause:
// no request IDs or timestamps, so that a repeated failure does not rewrite status.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// step wraps err with what the reconciler was doing.
func step(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &stepError{step: fmt.Sprintf(format, args...), err: err}
}

// conditionError is a failure the reconciler already describes for users (e.g. a secret
// of that name exists and is not ours).
type conditionError struct {
	reason  string
	message string
	// retryAtResync: the failure needs a change by the user (or a watched object), so the
	// resource is only checked again at its resync interval, never in a hot loop.
	retryAtResync bool
}

func (e *conditionError) Error() string { return e.reason + ": " + e.message }

// retryPolicy says when to look at a failed resource again.
type retryPolicy int

const (
	// retryBackoff returns the error to controller-runtime: per-item exponential backoff.
	retryBackoff retryPolicy = iota
	// retryResync waits for the resync interval (or a watch event): retrying sooner
	// cannot help and would only cost API calls.
	retryResync
)

// outcome is how a failure is shown and retried.
type outcome struct {
	reason  string
	message string
	// transient: the failure says nothing about the cloud secret (throttling, network),
	// so a Ready secret stays Ready.
	transient bool
	// stalled: no retry can succeed without a change by someone (kstatus Stalled).
	stalled bool
	retry   retryPolicy
}

// stalledReasons are the reasons no retry can get past without someone's change: the
// spec, a policy, or the cloud secret's owner.
var stalledReasons = map[string]bool{
	v1alpha1.ReasonAlreadyExists:          true,
	v1alpha1.ReasonOwnedByAnotherResource: true,
	v1alpha1.ReasonOwnershipLost:          true,
	v1alpha1.ReasonPolicyDenied:           true,
	v1alpha1.ReasonInvalidSpec:            true,
	v1alpha1.ReasonVersionLimitReached:    true,
	v1alpha1.ReasonEnvironmentNotAllowed:  true,
	v1alpha1.ReasonTargetConflict:         true,
	v1alpha1.ReasonTemplateError:          true,
	v1alpha1.ReasonTargetsDisabled:        true,
}

// classifyOrNil is classify for a failure that may be nil.
func classifyOrNil(err error) *outcome {
	if err == nil {
		return nil
	}
	o := classify(err)
	return &o
}

// classify maps an error of a reconcile to a condition reason, an actionable message and a
// retry policy.
func classify(err error) outcome {
	o := classifyReason(err)
	o.stalled = stalledReasons[o.reason]
	return o
}

func classifyReason(err error) outcome {
	var ce *conditionError
	if errors.As(err, &ce) {
		o := outcome{reason: ce.reason, message: ce.message, retry: retryBackoff}
		if ce.retryAtResync {
			o.retry = retryResync
		}
		return o
	}
	msg := message(err)
	switch {
	case errors.Is(err, provider.ErrEnvironmentNotAllowed):
		// A refusal that no retry changes: the config, or the manager's flag, must change.
		return outcome{reason: v1alpha1.ReasonEnvironmentNotAllowed, message: msg, retry: retryResync}
	case provider.IsConfigError(err):
		// The provider watches requeue the resource when the config or its Secret changes.
		return outcome{reason: v1alpha1.ReasonProviderConfigNotReady, message: msg, retry: retryResync}
	case errors.Is(err, source.ErrNotFound):
		// The Secret watch requeues the resource when the Secret appears.
		return outcome{reason: v1alpha1.ReasonSourceNotFound,
			message: msg + "; create it in the ManagedSecret's namespace (value references cannot point to other namespaces)",
			retry:   retryResync}
	case errors.Is(err, source.ErrInvalid):
		return outcome{reason: v1alpha1.ReasonInvalidSpec, message: msg, retry: retryResync}
	case errors.Is(err, csms.ErrVersionLimit):
		return outcome{reason: v1alpha1.ReasonVersionLimitReached, retry: retryResync, message: msg +
			"; the secret holds as many versions as CSMS allows and every one of them carries a stage, so none could be removed to make room: remove a stage from an old version (or delete old versions) in CSMS; the cloud secret keeps serving its current version meanwhile, and the new version is written at the next resync or change"}
	case errors.Is(err, csms.ErrInvalid):
		return outcome{reason: v1alpha1.ReasonInvalidSpec, message: msg + "; fix the spec", retry: retryResync}
	case errors.Is(err, csms.ErrUnauthorized):
		return outcome{reason: v1alpha1.ReasonUnauthorized,
			message: msg + "; check the credentials of the provider config and their CSMS permissions",
			retry:   retryBackoff}
	case errors.Is(err, csms.ErrThrottled):
		return outcome{reason: v1alpha1.ReasonThrottled, message: msg + "; retrying with backoff",
			transient: true, retry: retryBackoff}
	default:
		return outcome{reason: v1alpha1.ReasonReconcileError, message: msg, transient: true, retry: retryBackoff}
	}
}

// message is the user-facing text of err: the failed step and, for a CSMS error, the
// operation, service code and message without the request ID.
func message(err error) string {
	cause := err
	prefix := ""
	var se *stepError
	if errors.As(err, &se) {
		prefix, cause = se.step+": ", se.err
	}
	var ae *csms.APIError
	if errors.As(cause, &ae) {
		s := "CSMS " + ae.Operation
		if ae.StatusCode != 0 {
			s += fmt.Sprintf(" returned HTTP %d", ae.StatusCode)
		}
		if ae.Code != "" {
			s += " " + ae.Code
		}
		if ae.Message != "" {
			s += ": " + ae.Message
		}
		return prefix + s
	}
	return prefix + cause.Error()
}
