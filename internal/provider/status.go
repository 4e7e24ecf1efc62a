package provider

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// readyCondition computes the Ready condition of a provider config from the outcome of
// resolving it: target on success, err (one of the resolver's config errors) otherwise.
// Transient errors are not turned into a condition (the caller retries and keeps the
// last known state), so err here always matches a sentinel or is nil.
// ObservedGeneration is stamped by the caller (SetCondition).
func readyCondition(target *Target, err error) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionTypeReady}
	switch {
	case err == nil && target != nil && target.Source == v1alpha1.CredentialsSourceEnvironment:
		c.Status = metav1.ConditionTrue
		c.Reason = v1alpha1.ReasonAvailable
		c.Message = "The SDK credential chain of the manager (environment variables, profile, ECS agency, CCE pod identity) provides credentials; CSMS checks them on the first call"
	case err == nil && target != nil:
		c.Status = metav1.ConditionTrue
		c.Reason = v1alpha1.ReasonAvailable
		c.Message = fmt.Sprintf("Credentials Secret %q in namespace %q has keys %s and %s",
			target.CredentialsSecret.Name, target.CredentialsSecret.Namespace,
			v1alpha1.CredentialsKeyAccessKeyID, v1alpha1.CredentialsKeySecretAccessKey)
	case errors.Is(err, ErrCredentialsNotFound):
		c.Status = metav1.ConditionFalse
		c.Reason = v1alpha1.ReasonCredentialsNotFound
		c.Message = err.Error()
	case errors.Is(err, ErrConfigInvalid):
		c.Status = metav1.ConditionFalse
		c.Reason = v1alpha1.ReasonInvalidSpec
		c.Message = err.Error()
	default:
		// Not expected from the reconcilers (they return transient errors before
		// computing status); keep a safe, generic message rather than a raw error.
		c.Status = metav1.ConditionFalse
		c.Reason = v1alpha1.ReasonReconcileError
		c.Message = "The provider configuration could not be checked; it is retried"
	}
	return c
}
