package provider

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// readyCondition computes the Ready condition of a provider config from the outcome of
// resolving it and checking its credentials: target when it resolved, err (a config error
// of the resolver, or the refusal or unreachable verdict of the check) otherwise. Ready is
// True only when err is nil, that is CSMS accepted the credentials. Transient errors are
// not turned into a condition (the caller retries and keeps the last known state).
// ObservedGeneration is stamped by the caller (SetCondition).
func readyCondition(target *Target, err error) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionFalse, Message: safeMessage(err)}
	switch {
	case err == nil && target != nil:
		c.Status = metav1.ConditionTrue
		c.Reason = v1alpha1.ReasonAvailable
		c.Message = fmt.Sprintf("CSMS accepted %s", describeCredentials(target))
	case errors.Is(err, errUnauthorized):
		c.Reason = v1alpha1.ReasonUnauthorized
	case errors.Is(err, errEndpointUnreachable):
		c.Reason = v1alpha1.ReasonEndpointUnreachable
	case errors.Is(err, ErrEnvironmentNotAllowed):
		c.Reason = v1alpha1.ReasonEnvironmentNotAllowed
	case errors.Is(err, ErrCredentialsNotFound):
		c.Reason = v1alpha1.ReasonCredentialsNotFound
	case errors.Is(err, ErrConfigInvalid):
		c.Reason = v1alpha1.ReasonInvalidSpec
	default:
		// Not expected from the reconcilers (they return transient errors before
		// computing status); keep a safe, generic message rather than a raw error.
		c.Reason = v1alpha1.ReasonReconcileError
		c.Message = "The provider configuration could not be checked; it is retried"
	}
	return c
}

// safeMessage is err's message; every error that reaches readyCondition with a reason
// of its own was built to be condition-safe.
func safeMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
