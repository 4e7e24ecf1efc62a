package csms

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error a Client returns matches exactly one of them with errors.Is
// (context cancellation additionally matches context.Canceled / DeadlineExceeded).
var (
	// ErrNotFound: the secret (or version/resource) does not exist.
	ErrNotFound = errors.New("csms: not found")
	// ErrPendingDelete: the secret is scheduled for deletion and refuses the operation.
	ErrPendingDelete = errors.New("csms: secret is pending deletion")
	// ErrInvalid: the service refused the request as invalid; retrying will not help.
	ErrInvalid = errors.New("csms: invalid request")
	// ErrThrottled: the service kept throttling after all retries, or the client rate
	// limiter could not grant a slot before the context deadline.
	ErrThrottled = errors.New("csms: throttled")
	// ErrUnauthorized: credentials were refused (401/403).
	ErrUnauthorized = errors.New("csms: unauthorized")
	// ErrTransient: a 5xx, connection error or timeout; for a write the outcome is
	// unknown and the caller must re-observe.
	ErrTransient = errors.New("csms: transient error")
	// ErrAlreadyExists: CreateSecret found the name taken (confirmed by a read).
	ErrAlreadyExists = errors.New("csms: secret already exists")
	// ErrVersionLimit: PutValue was refused and a read confirmed the secret holds
	// MaxVersions versions or more. Retrying will not help until versions are freed (a
	// stage removed so CSMS can delete a deprecated version).
	ErrVersionLimit = errors.New("csms: version limit reached")
)

// maxMessageLen caps the server message kept in an APIError so a huge or hostile body
// cannot bloat conditions and logs.
const maxMessageLen = 256

// APIError describes one failed CSMS call. It never contains a secret value: the server's
// error message is kept (CSMS does not echo values) but truncated.
type APIError struct {
	// Operation is the client operation, e.g. "CreateSecret".
	Operation string
	// StatusCode is the HTTP status, 0 when no response was received.
	StatusCode int
	// Code is the service error code, e.g. "CSMS.0106" or "APIGW.0308".
	Code string
	// Message is the service's error message (truncated) or a transport error summary.
	Message   string
	RequestID string
	// Kind is the sentinel this error matches (ErrNotFound, …).
	Kind error
	// Err is the underlying cause when there is one (e.g. a transport error or the
	// context error); nil for plain service errors.
	Err error

	// ctxDone marks the caller's context ending (never retried).
	ctxDone bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "csms %s", e.Operation)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	if e.Kind != nil {
		fmt.Fprintf(&b, " [%s]", strings.TrimPrefix(e.Kind.Error(), "csms: "))
	}
	return b.String()
}

// Unwrap exposes both the kind sentinel and the cause to errors.Is / errors.As.
func (e *APIError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// truncate caps s at n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
