package csms

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
)

// Service error codes the classification relies on (reference §5 and
// /work/emulator-decisions.md). Status codes decide first; codes only refine a 400.
const (
	codeInvalidParameter  = "CSMS.0002"
	codeBodyFormat        = "CSMS.0004"
	codeResourceNotFound  = "CSMS.0005"
	codeScheduledDeletion = "CSMS.0103"
	codeSecretNotFound    = "CSMS.0106"
	codePendingDelete     = "CSMS.0107"
	codeGatewayThrottled  = "APIGW.0308"
)

// classify turns an error of one SDK call into an *APIError with its Kind decided from
// the HTTP status first and the service error code second.
func classify(op string, err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}

	var sre *sdkerr.ServiceResponseError
	if errors.As(err, &sre) {
		e := &APIError{
			Operation:  op,
			StatusCode: sre.StatusCode,
			Code:       sre.ErrorCode,
			Message:    truncate(sre.ErrorMessage, maxMessageLen),
			RequestID:  sre.RequestId,
		}
		if sre.StatusCode < 400 {
			// The SDK reports a body it could not decode as a ServiceResponseError with
			// the success status. Its message is a decoder error that may quote bytes of
			// the body, so it is dropped. The request was served: for a write the outcome
			// is applied-but-unreadable, which the caller resolves by re-observing.
			e.Code = ""
			e.Message = "could not decode the response body"
			e.Kind = ErrTransient
			return e
		}
		e.Kind = kindFor(sre.StatusCode, sre.ErrorCode)
		return e
	}

	e := &APIError{Operation: op, Kind: ErrTransient, Err: err}
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.Is(err, errAttemptTimeout):
		e.Message = "attempt timed out"
	case errors.As(err, &ue) && ue.Timeout():
		// Before the context check: http.Client's own timeout also wraps
		// context.DeadlineExceeded, but it is a per-attempt timeout, not the caller's
		// (the SDK request carries no caller context).
		e.Message = "request timed out"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Message = "context done"
		e.ctxDone = true
	case notSent(err):
		e.Message = "connection failed before the request was sent"
	case errors.As(err, &ne) && ne.Timeout():
		e.Message = "request timed out"
	default:
		// Transport and SDK errors (URL, dial, TLS, credential refresh) carry no secret
		// value: request bodies are never part of them.
		e.Message = truncate(err.Error(), maxMessageLen)
	}
	return e
}

// kindFor maps an HTTP error status and service code to a sentinel.
func kindFor(status int, code string) error {
	switch {
	case status == http.StatusTooManyRequests || code == codeGatewayThrottled:
		return ErrThrottled
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusRequestTimeout || status >= 500:
		return ErrTransient
	case status == http.StatusBadRequest && (code == codeSecretNotFound || code == codeResourceNotFound):
		// The public docs list these not-found codes under 400.
		return ErrNotFound
	case status == http.StatusBadRequest && (code == codeScheduledDeletion || code == codePendingDelete):
		return ErrPendingDelete
	default:
		return ErrInvalid
	}
}

// notSent reports errors that certainly happened before the request left: the server
// cannot have acted on it, so even a non-idempotent call may be retried.
func notSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return false
}

// retryable decides whether a classified error may be retried.
func retryable(e *APIError, idempotent bool) bool {
	switch {
	case errors.Is(e.Kind, ErrThrottled):
		// The gateway refused the call before the service saw it.
		return true
	case errors.Is(e.Kind, ErrTransient):
		if e.ctxDone {
			return false
		}
		if e.Err != nil && notSent(e.Err) {
			return true
		}
		return idempotent
	default:
		return false
	}
}

// isInputValidation reports a 400 that clearly rejects our input (so no read is needed
// to interpret a failed create).
func isInputValidation(e *APIError) bool {
	return e.StatusCode == http.StatusBadRequest && (e.Code == codeInvalidParameter || e.Code == codeBodyFormat)
}
