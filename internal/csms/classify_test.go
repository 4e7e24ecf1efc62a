package csms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
)

func svcErr(status int, code, msg string) error {
	return &sdkerr.ServiceResponseError{StatusCode: status, ErrorCode: code, ErrorMessage: msg, RequestId: "req-1"}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/p/secrets",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}}
	reset := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/p/secrets",
		Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	timeout := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/p/secrets/x", Err: timeoutErr{}}

	tests := []struct {
		name string
		err  error
		kind error
		// retry when idempotent / when not
		retryIdem, retryNonIdem bool
	}{
		{"404 secret not found", svcErr(404, "CSMS.0106", "The secret name not found int the db."), ErrNotFound, false, false},
		{"404 without code", svcErr(404, "", "not found"), ErrNotFound, false, false},
		{"400 CSMS.0106 as documented", svcErr(400, "CSMS.0106", ""), ErrNotFound, false, false},
		{"400 CSMS.0005", svcErr(400, "CSMS.0005", ""), ErrNotFound, false, false},
		{"400 CSMS.0103 read while pending", svcErr(400, "CSMS.0103", ""), ErrPendingDelete, false, false},
		{"400 CSMS.0107 write while pending", svcErr(400, "CSMS.0107", ""), ErrPendingDelete, false, false},
		{"400 CSMS.0002 invalid parameter", svcErr(400, "CSMS.0002", "Invalid parameter name"), ErrInvalid, false, false},
		{"400 CSMS.0104 guessed already-exists stays invalid", svcErr(400, "CSMS.0104", "exists"), ErrInvalid, false, false},
		{"400 CSMS.0108 not pending", svcErr(400, "CSMS.0108", ""), ErrInvalid, false, false},
		{"409 conflict", svcErr(409, "", ""), ErrInvalid, false, false},
		{"413 too large", svcErr(413, "CSMS.0003", ""), ErrInvalid, false, false},
		{"429 gateway throttle", svcErr(429, "APIGW.0308", "throttling"), ErrThrottled, true, true},
		{"throttle code on another status", svcErr(400, "APIGW.0308", ""), ErrThrottled, true, true},
		{"401 bad signature", svcErr(401, "APIGW.0301", "verify aksk signature fail"), ErrUnauthorized, false, false},
		{"403 wrong project", svcErr(403, "APIGW.0302", ""), ErrUnauthorized, false, false},
		{"408", svcErr(408, "", ""), ErrTransient, true, false},
		{"500", svcErr(500, "", ""), ErrTransient, true, false},
		{"502", svcErr(502, "", ""), ErrTransient, true, false},
		{"503", svcErr(503, "", ""), ErrTransient, true, false},
		{"504", svcErr(504, "", ""), ErrTransient, true, false},
		{"connection refused (never sent)", refused, ErrTransient, true, true},
		{"dns failure (never sent)", &url.Error{Op: "Get", URL: "https://x", Err: &net.DNSError{Err: "no such host", Name: "x"}}, ErrTransient, true, true},
		{"connection reset (maybe applied)", reset, ErrTransient, true, false},
		{"timeout (maybe applied)", timeout, ErrTransient, true, false},
		{"attempt timeout", errAttemptTimeout, ErrTransient, true, false},
		{"context deadline", context.DeadlineExceeded, ErrTransient, false, false},
		{"context canceled", fmt.Errorf("wrapped: %w", context.Canceled), ErrTransient, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify("Op", tt.err)
			if !errors.Is(e, tt.kind) {
				t.Fatalf("classify(%v) = %v, want kind %v", tt.err, e, tt.kind)
			}
			for _, other := range []error{ErrNotFound, ErrPendingDelete, ErrInvalid, ErrThrottled, ErrUnauthorized, ErrTransient, ErrAlreadyExists} {
				if other != tt.kind && errors.Is(e, other) {
					t.Errorf("also matches %v", other)
				}
			}
			if got := retryable(e, true); got != tt.retryIdem {
				t.Errorf("retryable(idempotent) = %v, want %v", got, tt.retryIdem)
			}
			if got := retryable(e, false); got != tt.retryNonIdem {
				t.Errorf("retryable(non-idempotent) = %v, want %v", got, tt.retryNonIdem)
			}
			var ae *APIError
			if !errors.As(e, &ae) || ae.Operation != "Op" {
				t.Errorf("not an *APIError with the operation: %#v", e)
			}
		})
	}
}

func TestClassifyKeepsServiceDetails(t *testing.T) {
	e := classify("GetSecret", svcErr(404, "CSMS.0106", "The secret name not found int the db."))
	want := "csms GetSecret: HTTP 404 CSMS.0106: The secret name not found int the db. (request id req-1) [not found]"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if e.StatusCode != 404 || e.Code != "CSMS.0106" || e.RequestID != "req-1" {
		t.Errorf("fields lost: %+v", e)
	}
}

func TestClassifyCapsMessage(t *testing.T) {
	e := classify("Op", svcErr(400, "CSMS.0002", strings.Repeat("é", 1000)))
	if len(e.Message) > maxMessageLen+len("…") {
		t.Errorf("message is %d bytes, cap is %d", len(e.Message), maxMessageLen)
	}
	if !strings.HasSuffix(e.Message, "…") || strings.ContainsRune(e.Message, '\uFFFD') {
		t.Errorf("truncation broke UTF-8 or lost the marker: %q", e.Message[len(e.Message)-8:])
	}
}

// A 200 whose body cannot be decoded comes back from the SDK as a ServiceResponseError
// holding the decoder's message, which can quote the body; it must be dropped.
func TestClassifyDropsDecoderMessage(t *testing.T) {
	e := classify("GetCurrentValue", svcErr(200, "", "invalid character 'c' looking for beginning of value: "+canary))
	if !errors.Is(e, ErrTransient) {
		t.Fatalf("kind = %v", e.Kind)
	}
	if strings.Contains(e.Error(), canary) {
		t.Errorf("error quotes the body: %s", e.Error())
	}
}
