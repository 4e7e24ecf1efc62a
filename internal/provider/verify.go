package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// A provider config is Ready only once CSMS accepted its credentials: the reconcilers make
// one signed read (csms.CredentialsVerifier) per cached client and remember the verdict on
// the cache entry, which is keyed by the config's UID and generation and the credentials
// Secret's resourceVersion. A resync of an unchanged config therefore costs no CSMS call.
// Verdicts that the cluster cannot announce a change of expire instead:
const (
	// envRecheckInterval is how often an Environment-source config is checked again: the
	// environment (a mounted profile, a pod identity token, an agency) can change without
	// any Kubernetes event to watch. A config whose chain found nothing is retried at the
	// same pace.
	envRecheckInterval = time.Minute
	// unauthorizedRecheck: a refusal is usually fixed in the Secret (watched: checked at
	// once), but a missing IAM permission is fixed in the cloud, which sends no event.
	unauthorizedRecheck = time.Minute
	// unreachableRetry is the first wait after an unreachable endpoint; the next ones
	// double up to maxUnreachableRetry. The check itself already retried with backoff.
	unreachableRetry    = 30 * time.Second
	maxUnreachableRetry = time.Minute
	// verifyTimeout bounds one check, retries included, so an endpoint that swallows
	// packets does not hold the reconciler for the client's full retry budget.
	verifyTimeout = 20 * time.Second
)

// verdict is the outcome of one credentials check.
type verdict struct {
	// err is nil when CSMS accepted the credentials; otherwise it matches
	// errUnauthorized or errEndpointUnreachable and carries a condition message.
	err error
	// expires is when the verdict must be checked again; zero means never (until the
	// config or its Secret changes, which replaces the cache entry).
	expires time.Time
	// failures counts consecutive unreachable checks, for the backoff.
	failures int
}

// fresh reports whether v can stand at now without a new check.
func (v *verdict) fresh(now time.Time) bool {
	return v != nil && (v.expires.IsZero() || now.Before(v.expires))
}

// requeueAfter is how long until v expires (0: never).
func (v *verdict) requeueAfter(now time.Time) time.Duration {
	if v == nil || v.expires.IsZero() {
		return 0
	}
	return max(v.expires.Sub(now), time.Second)
}

// verify returns the credentials verdict of e's client, checking with CSMS only when e
// has no fresh verdict. A check that says nothing about the credentials (throttled, the
// caller's context ended) is returned as a transient error and not remembered.
func (r *Resolver) verify(ctx context.Context, e *cacheEntry) (verdict, error) {
	r.mu.Lock()
	prev := e.verdict
	if prev.fresh(r.now()) {
		v := *prev
		r.mu.Unlock()
		return v, nil
	}
	r.mu.Unlock()

	checker, ok := e.client.(csms.CredentialsVerifier)
	if !ok {
		return verdict{}, fmt.Errorf("the CSMS client of %s (%T) cannot verify credentials", e.target.Key, e.client)
	}
	cctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	err := checker.VerifyCredentials(cctx)
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded)
	cancel()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return verdict{}, fmt.Errorf("checking the credentials of %s: %w", e.target.Key, ctxErr)
	}

	now := r.now()
	var v verdict
	switch {
	case err == nil:
		if e.target.Source == v1alpha1.CredentialsSourceEnvironment {
			v.expires = now.Add(envRecheckInterval)
		}
	case errors.Is(err, csms.ErrUnauthorized):
		v.err = &resolveError{kind: errUnauthorized, cause: err, msg: unauthorizedMessage(&e.target, err)}
		v.expires = now.Add(unauthorizedRecheck)
	case errors.Is(err, csms.ErrTransient) || timedOut:
		if prev != nil && errors.Is(prev.err, errEndpointUnreachable) {
			v.failures = prev.failures
		}
		v.failures++
		v.expires = now.Add(min(unreachableRetry<<(v.failures-1), maxUnreachableRetry))
		// Credentials CSMS accepted before stay accepted through a network failure of a
		// recheck: the config did not stop working because one read went unanswered.
		if prev == nil || prev.err != nil {
			v.err = &resolveError{kind: errEndpointUnreachable, cause: err, msg: unreachableMessage(&e.target, err, timedOut)}
		}
	default:
		// Throttled: CSMS answered without saying anything about the credentials.
		return verdict{}, fmt.Errorf("checking the credentials of %s: %w", e.target.Key, err)
	}

	r.mu.Lock()
	e.verdict = &v
	r.mu.Unlock()
	return v, nil
}

// describeCredentials names where target's credentials come from, for messages.
func describeCredentials(t *Target) string {
	if t.Source == v1alpha1.CredentialsSourceEnvironment {
		return "the credentials of the manager's SDK credential chain (environment variables, profile, ECS agency, CCE pod identity)"
	}
	return fmt.Sprintf("the credentials in Secret %q in namespace %q", t.CredentialsSecret.Name, t.CredentialsSecret.Namespace)
}

// describeConfig names the config, e.g. `ProviderConfig "csms" in namespace "team-a"`.
func describeConfig(t *Target) string {
	if t.Namespace == "" {
		return fmt.Sprintf("%s %q", t.Kind, t.Name)
	}
	return fmt.Sprintf("%s %q in namespace %q", t.Kind, t.Name, t.Namespace)
}

// describeEndpoint names the endpoint the client talks to.
func describeEndpoint(t *Target) string {
	if t.Endpoint != "" {
		return fmt.Sprintf("CSMS endpoint %q", t.Endpoint)
	}
	return fmt.Sprintf("the CSMS endpoint of region %q", t.Region)
}

// unauthorizedMessage says what CSMS refused and what to check. It quotes the HTTP status
// and error code, not the service's message (it may name the access key) nor the request
// ID (it changes with every call, and a stable message keeps status writes and Events to
// real changes).
func unauthorizedMessage(t *Target, err error) string {
	check := fmt.Sprintf("check that accessKeyID and secretAccessKey are an enabled key pair of the account (and securityToken, if set, has not expired), that projectID %q is that account's project of region %q, and that the IAM user may use CSMS there",
		t.ProjectID, t.Region)
	if t.Source == v1alpha1.CredentialsSourceEnvironment {
		check = fmt.Sprintf("check the credentials the manager's pod gets (HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, profile, ECS agency, CCE pod identity), that projectID %q is that account's project of region %q, and that the identity may use CSMS there",
			t.ProjectID, t.Region)
	}
	return fmt.Sprintf("CSMS refused %s of %s (%s); %s", describeCredentials(t), describeConfig(t), httpSummary(err), check)
}

// unreachableMessage names the endpoint, what went wrong and what to check.
func unreachableMessage(t *Target, err error, timedOut bool) string {
	cause := transportSummary(err)
	if timedOut {
		cause = fmt.Sprintf("no answer within %s", verifyTimeout)
	}
	check := "spec.endpoint"
	if t.Endpoint == "" {
		envName := "HUAWEICLOUD_SDK_REGION_CSMS_" + strings.ToUpper(strings.ReplaceAll(t.Region, "-", "_"))
		check = "spec.region (or " + envName + " on the manager)"
	}
	return fmt.Sprintf("%s of %s could not be reached to check its credentials (%s); check %s, DNS, network policies and proxies between the manager and the endpoint, and that the service is up; it is checked again within a minute",
		describeEndpoint(t), describeConfig(t), cause, check)
}

// httpSummary is "HTTP <status> <code>" of a CSMS error.
func httpSummary(err error) string {
	var ae *csms.APIError
	if !errors.As(err, &ae) || ae.StatusCode == 0 {
		return "refused"
	}
	s := fmt.Sprintf("HTTP %d", ae.StatusCode)
	if ae.Code != "" {
		s += " " + ae.Code
	}
	return s
}

// transportSummary describes a transient failure in a few stable words.
func transportSummary(err error) string {
	var dnsErr *net.DNSError
	var ae *csms.APIError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS lookup of %q failed", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ae) && ae.StatusCode != 0:
		return httpSummary(err) + ", after retries"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, &ae) && ae.Message != "":
		return ae.Message
	default:
		return "transport error"
	}
}
