package provider

import "errors"

// Sentinel errors returned by Resolver.ClientFor. Match them with errors.Is. Every error
// that matches one of them has a message fit for a condition or an Event: it names the
// config, the namespace, the Secret and the missing key, and never contains a credential.
// An error that matches none of them is a transient failure (e.g. the API server could not
// be reached) and the caller should retry.
var (
	// ErrConfigNotFound: the referenced ProviderConfig / ClusterProviderConfig does not
	// exist (a ProviderConfig is looked up only in the referencing namespace).
	ErrConfigNotFound = errors.New("provider config not found")
	// ErrNamespaceNotAllowed: a ClusterProviderConfig's namespaceSelector does not match
	// the referencing namespace.
	ErrNamespaceNotAllowed = errors.New("namespace not allowed by provider config")
	// ErrCredentialsNotFound: the credentials Secret, or one of its required keys, is
	// missing or empty.
	ErrCredentialsNotFound = errors.New("provider credentials not found")
	// ErrConfigInvalid: the config cannot be used as written (e.g. an unknown reference
	// kind, a Secret source without a secretRef, an invalid namespaceSelector).
	ErrConfigInvalid = errors.New("provider config invalid")
	// ErrEnvironmentNotAllowed: a namespaced ProviderConfig asks for credentials.source
	// Environment, which would lend the manager's own cloud identity to its namespace,
	// and the manager was not started with --allow-namespaced-environment-credentials.
	// No client is built for such a config.
	ErrEnvironmentNotAllowed = errors.New("environment credentials not allowed for a namespaced provider config")
)

// Outcomes of the credentials check of the provider-config reconcilers (ClientFor makes
// no CSMS call and never returns them).
var (
	// errUnauthorized: CSMS refused the credentials (401/403).
	errUnauthorized = errors.New("provider credentials refused")
	// errEndpointUnreachable: the endpoint did not answer (connection refused, DNS,
	// timeout) or kept failing with 5xx.
	errEndpointUnreachable = errors.New("provider endpoint unreachable")
)

// resolveError carries a condition-safe message and the sentinel it matches. Its message
// is the whole message (no "sentinel: " prefix) so it reads well in a condition.
type resolveError struct {
	kind error
	msg  string
	// cause is an underlying error kept for errors.Is/As (e.g. from csms.New). It is not
	// part of the message unless the message builder put it there on purpose.
	cause error
}

func (e *resolveError) Error() string { return e.msg }

func (e *resolveError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func newError(kind error, msg string) error { return &resolveError{kind: kind, msg: msg} }

// IsConfigError reports whether err is one of the resolver's permanent, user-fixable
// errors (as opposed to a transient failure to reach the API server). Callers use it to
// decide between a condition that waits for a watch event and a retry with backoff.
func IsConfigError(err error) bool {
	return errors.Is(err, ErrConfigNotFound) || errors.Is(err, ErrNamespaceNotAllowed) ||
		errors.Is(err, ErrCredentialsNotFound) || errors.Is(err, ErrConfigInvalid) ||
		errors.Is(err, ErrEnvironmentNotAllowed)
}
