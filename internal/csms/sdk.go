package csms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	csmsregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/region"
	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// sdkClient implements Client over the official SDK.
type sdkClient struct {
	api        *csmsv1.CsmsClient
	limiter    *rate.Limiter
	timeout    time.Duration
	maxRetries int
	backoff    backoff
}

var _ Client = (*sdkClient)(nil)

// backoff is a jittered exponential backoff ("full jitter": a random wait in
// [0, min(max, base·2^attempt)]), so that many reconcilers throttled at once spread out.
type backoff struct {
	base, max time.Duration
}

func (b backoff) delay(attempt int) time.Duration {
	d := b.base << min(attempt, 30)
	if d <= 0 || d > b.max {
		d = b.max
	}
	// Never zero, so a retry storm still yields to the limiter and other goroutines.
	return time.Duration(rand.Int64N(int64(d))) + time.Millisecond
}

var defaultBackoff = backoff{base: 200 * time.Millisecond, max: 10 * time.Second}

// New builds a Client from cfg. With cfg.Endpoint it talks to that endpoint with the given
// project and makes no IAM call; otherwise it resolves cfg.Region through the SDK (the
// HUAWEICLOUD_SDK_REGION_CSMS_<REGION> env variable, regions.yaml, then the static table).
func New(cfg Config) (Client, error) {
	if cfg.Region == "" {
		return nil, errors.New("csms: region is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.QPS <= 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}

	if cfg.Credentials == nil {
		return nil, errors.New("csms: credentials are required")
	}
	cred, ak, err := cfg.Credentials.sdkCredential(cfg.ProjectID)
	if err != nil {
		return nil, err
	}

	// The SDK has no context; HttpConfig.Timeout bounds each HTTP exchange so that an
	// abandoned call (see sdkClient.attempt) cannot linger.
	httpCfg := config.DefaultHttpConfig().WithTimeout(cfg.Timeout)
	builder := csmsv1.CsmsClientBuilder().WithCredential(cred).WithHttpConfig(httpCfg)
	if cfg.Endpoint != "" {
		if cfg.ProjectID == "" {
			return nil, errors.New("csms: projectID is required when an endpoint is given")
		}
		builder = builder.WithEndpoints([]string{cfg.Endpoint})
	}
	// The SDK's region env cache is a plain map and SafeBuild rewrites the region's
	// endpoint slice in place: neither is safe for concurrent use, so builds are serialised.
	sdkBuildMu.Lock()
	if cfg.Endpoint == "" {
		reg, err := csmsregion.SafeValueOf(cfg.Region)
		if err != nil {
			sdkBuildMu.Unlock()
			return nil, fmt.Errorf("csms: unknown region %q: %w", cfg.Region, err)
		}
		builder = builder.WithRegion(reg)
	}
	hc, err := safeBuild(builder.SafeBuild)
	sdkBuildMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("csms: building the SDK client: %w", err)
	}

	return &sdkClient{
		api:        csmsv1.NewCsmsClient(hc),
		limiter:    sharedLimiter(limiterKey(ak, cfg.Region, cfg.Endpoint), cfg.QPS, cfg.Burst),
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		backoff:    defaultBackoff,
	}, nil
}

var sdkBuildMu sync.Mutex

// safeBuild turns a panic inside the SDK builder into an error (older code paths panic).
func safeBuild[T any](f func() (T, error)) (out T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("SDK panic: %v", r)
		}
	}()
	return f()
}

// callOpts says how a call may be retried.
type callOpts struct {
	// idempotent calls are retried on any transient error; non-idempotent ones only when
	// the request certainly did not reach the server (429, connection refused).
	idempotent bool
}

// call runs fn (one SDK call) with rate limiting, a timeout per attempt, retries and
// metrics, and returns its response or a classified *APIError.
func (c *sdkClient) call(ctx context.Context, op string, o callOpts, fn func() (any, error)) (any, error) {
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, limiterError(ctx, op, err)
		}
		start := time.Now()
		resp, err := c.attempt(ctx, fn)
		observe(op, resp, err, time.Since(start))
		if err == nil {
			return resp, nil
		}
		apiErr := classify(op, err)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, &APIError{Operation: op, Message: "context done", Kind: ErrTransient, Err: ctxErr, ctxDone: true}
		}
		if attempt >= c.maxRetries || !retryable(apiErr, o.idempotent) {
			return nil, apiErr
		}
		wait := c.backoff.delay(attempt)
		// Debug level: a throttled or flaky API is normal operation, not news. The fields
		// name the call, never its content.
		log.FromContext(ctx).V(1).Info("Retrying CSMS call", "operation", op, "attempt", attempt+1,
			"status", apiErr.StatusCode, "errorCode", apiErr.Code, "requestId", apiErr.RequestID, "backoff", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &APIError{Operation: op, Message: "context done while backing off", Kind: ErrTransient, Err: ctx.Err(), ctxDone: true}
		case <-t.C:
		}
	}
}

// errAttemptTimeout is returned when the SDK call outlives the attempt timeout (the SDK's
// own HTTP timeout normally fires first).
var errAttemptTimeout = errors.New("attempt timed out")

// attempt runs fn in a goroutine so that ctx cancellation returns at once: the SDK has no
// context. The abandoned call ends by itself within the HTTP timeout.
func (c *sdkClient) attempt(ctx context.Context, fn func() (any, error)) (any, error) {
	type result struct {
		resp any
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				// Never let an SDK panic kill the manager; the panic text is the SDK's,
				// not a value.
				ch <- result{err: fmt.Errorf("SDK panic: %v", r)}
			}
		}()
		resp, err := fn()
		ch <- result{resp, err}
	}()
	// A grace period beyond the HTTP timeout covers signing and credential refresh.
	t := time.NewTimer(c.timeout + 5*time.Second)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errAttemptTimeout
	}
}

func limiterError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &APIError{Operation: op, Message: "context done while waiting for the rate limiter", Kind: ErrTransient, Err: ctxErr, ctxDone: true}
	}
	// rate.Limiter refuses up front when the wait would pass the deadline.
	return &APIError{Operation: op, Message: "client rate limit: " + err.Error(), Kind: ErrThrottled}
}

// statusOf reads HttpStatusCode from an SDK or custom response struct.
func statusOf(resp any) int {
	v := reflect.ValueOf(resp)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return 0
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 0
	}
	f := v.FieldByName("HttpStatusCode")
	if !f.IsValid() || f.Kind() != reflect.Int {
		return 0
	}
	return int(f.Int())
}

func ptr[T any](v T) *T { return &v }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// limiterKey identifies a credential at an endpoint. The key itself is never logged; it
// holds the access key (not secret) only.
func limiterKey(ak, region, endpoint string) string {
	return strings.Join([]string{ak, region, endpoint}, "\x00")
}
