package csms

// Unit tier: the client's handling of statuses, retries, timeouts and the limiter,
// through the real SDK against a local httptest server that plays scripted responses.
// Service behaviour itself is tested against the emulator in integration_test.go.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testProject = "0123456789abcdef0123456789abcdef"

// fakeCSMS records every request and answers through handle. key is "METHOD /path"
// with the "/v1/{project}" prefix removed; n counts requests with that key (from 1).
type fakeCSMS struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int
	bodies map[string][]string
	handle func(w http.ResponseWriter, r *http.Request, key string, n int)
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, key string, n int)) *fakeCSMS {
	t.Helper()
	f := &fakeCSMS{hits: map[string]int{}, bodies: map[string][]string{}, handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/v1/"+testProject)
		f.mu.Lock()
		f.hits[key]++
		n := f.hits[key]
		f.bodies[key] = append(f.bodies[key], string(body))
		f.mu.Unlock()
		w.Header().Set("X-Request-Id", "rid-"+key)
		w.Header().Set("Content-Type", "application/json")
		f.handle(w, r, key, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCSMS) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

func (f *fakeCSMS) body(key string, i int) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m map[string]any
	if i < len(f.bodies[key]) {
		_ = json.Unmarshal([]byte(f.bodies[key][i]), &m)
	}
	return m
}

func reply(w http.ResponseWriter, status int, body string) {
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func replyErr(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, `{"error_code":"`+code+`","error_msg":"`+msg+`"}`)
}

// drop closes the connection without answering: the request was sent, the outcome is
// unknown to the client.
func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

const secretJSON = `{"secret":{"id":"bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e","name":"demo","state":"ENABLED",
"kms_key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","description":"d","create_time":1581507580000,
"update_time":1581507590000,"scheduled_delete_time":null,"secret_type":"COMMON","auto_rotation":true,
"rotation_period":"30d","rotation_config":"","rotation_time":1668567940000,"next_rotation_time":1668629140000,
"last_used_time":1668629150000,"event_subscriptions":["ev1"],"enterprise_project_id":"0",
"rotation_func_urn":"urn:fss:x","domain_id":"dom-1","replica_type":"PRIMARY",
"replicas":[{"id":"r1","kms_key_id":"k1","project_id":"p2","region":"ap-southeast-3","replica_type":"REPLICA",
"status":"IN_SYNC","created_at":1581507580000,"updated_at":1581507600000}]}}`

// newTestClient builds a client for url with fast backoff. Each test gets its own access
// key so the process-wide limiters do not couple tests.
func newTestClient(t *testing.T, url string, mutate func(*Config)) *sdkClient {
	t.Helper()
	cfg := Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: url,
		Credentials: StaticCredentials{AccessKey: "ak-" + t.Name(), SecretKey: "sk"}, QPS: 1000, Burst: 1000, MaxRetries: 3, Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sc := c.(*sdkClient)
	sc.backoff = backoff{base: time.Millisecond, max: 5 * time.Millisecond}
	return sc
}

func TestGetSecretDecodesEveryField(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 Access=ak-") || r.Header.Get("X-Project-Id") != testProject {
			replyErr(w, 401, "APIGW.0301", "unsigned")
			return
		}
		reply(w, 200, secretJSON)
	})
	c := newTestClient(t, f.URL, nil)
	got, err := c.GetSecret(context.Background(), "demo")
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	want := &Secret{
		ID: "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e", Name: "demo", State: StateEnabled,
		KmsKeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Description: "d",
		CreateTime: ms(1581507580000), UpdateTime: ms(1581507590000), SecretType: SecretTypeCommon,
		AutoRotation: true, RotationPeriod: "30d", RotationTime: ms(1668567940000),
		NextRotationTime: ms(1668629140000), LastUsedTime: ms(1668629150000),
		EventSubscriptions: []string{"ev1"}, EnterpriseProjectID: "0", RotationFuncURN: "urn:fss:x",
		DomainID: "dom-1", ReplicaType: ReplicaTypePrimary,
		Replicas: []Replica{{ID: "r1", KmsKeyID: "k1", ProjectID: "p2", Region: "ap-southeast-3",
			ReplicaType: ReplicaTypeReplica, Status: ReplicaStatusInSync, CreatedAt: ms(1581507580000), UpdatedAt: ms(1581507600000)}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GetSecret (-want +got):\n%s", d)
	}
	if n := f.count("GET /secrets/demo"); n != 1 {
		t.Errorf("GET count = %d", n)
	}
}

func TestThrottlingIsRetriedUntilSuccess(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		if n <= 2 {
			replyErr(w, 429, "APIGW.0308", "The throttling threshold has been reached")
			return
		}
		reply(w, 200, secretJSON)
	})
	c := newTestClient(t, f.URL, nil)
	before429 := testutil.ToFloat64(apiRequests.WithLabelValues(opGetSecret, "429"))
	before200 := testutil.ToFloat64(apiRequests.WithLabelValues(opGetSecret, "200"))
	if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if n := f.count("GET /secrets/demo"); n != 3 {
		t.Errorf("requests = %d, want 3 (two 429 then 200)", n)
	}
	if d := testutil.ToFloat64(apiRequests.WithLabelValues(opGetSecret, "429")) - before429; d != 2 {
		t.Errorf("csms_api_requests_total{GetSecret,429} grew by %v, want 2", d)
	}
	if d := testutil.ToFloat64(apiRequests.WithLabelValues(opGetSecret, "200")) - before200; d != 1 {
		t.Errorf("csms_api_requests_total{GetSecret,200} grew by %v, want 1", d)
	}
	if testutil.CollectAndCount(apiDuration, "csms_api_request_duration_seconds") == 0 {
		t.Error("no duration observed")
	}
}

func TestRetriesAreBounded(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		replyErr(w, 503, "", "unavailable")
	})
	c := newTestClient(t, f.URL, func(c *Config) { c.MaxRetries = 2 })
	_, err := c.GetSecret(context.Background(), "demo")
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("err = %v, want ErrTransient", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.RequestID == "" {
		t.Errorf("APIError = %+v", ae)
	}
	if n := f.count("GET /secrets/demo"); n != 3 {
		t.Errorf("requests = %d, want 1 + 2 retries", n)
	}
}

func TestThrottledAfterAllRetries(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		replyErr(w, 429, "APIGW.0308", "throttled")
	})
	c := newTestClient(t, f.URL, func(c *Config) { c.MaxRetries = 1 })
	if _, err := c.GetSecret(context.Background(), "demo"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
	if n := f.count("GET /secrets/demo"); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		switch key {
		case "GET /secrets/gone":
			replyErr(w, 404, "CSMS.0106", "The secret name not found int the db.")
		case "GET /secrets/pending/versions/latest":
			replyErr(w, 400, "CSMS.0103", "pending")
		case "PUT /secrets/bad":
			replyErr(w, 400, "CSMS.0002", "Invalid parameter rotation_period")
		case "GET /secrets/denied":
			replyErr(w, 401, "APIGW.0301", "verify aksk signature fail")
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	if _, err := c.GetSecret(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSecret(gone) = %v", err)
	}
	if _, _, err := c.GetCurrentValue(ctx, "pending"); !errors.Is(err, ErrPendingDelete) {
		t.Errorf("GetCurrentValue(pending) = %v", err)
	}
	if _, err := c.UpdateSecret(ctx, "bad", UpdateSecretInput{RotationPeriod: ptr("1s")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateSecret(bad) = %v", err)
	}
	if _, err := c.GetSecret(ctx, "denied"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("GetSecret(denied) = %v", err)
	}
	for _, k := range []string{"GET /secrets/gone", "GET /secrets/pending/versions/latest", "PUT /secrets/bad", "GET /secrets/denied"} {
		if n := f.count(k); n != 1 {
			t.Errorf("%s sent %d times, want 1", k, n)
		}
	}
}

func TestDeleteNotFoundIsSuccess(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		replyErr(w, 404, "CSMS.0106", "The secret name not found int the db.")
	})
	c := newTestClient(t, f.URL, nil)
	if err := c.DeleteSecret(context.Background(), "gone"); err != nil {
		t.Errorf("DeleteSecret(gone) = %v, want nil", err)
	}
}

// A write whose outcome is unknown (5xx, dropped connection, timeout) is returned as
// ErrTransient after one attempt so the caller re-observes; 429 is safe to retry.
func TestNonIdempotentWritesAreNotRetriedWhenAmbiguous(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		switch key {
		case "POST /secrets":
			replyErr(w, 500, "", "internal")
		case "POST /secrets/demo/versions":
			drop(w)
		case "POST /secrets/demo/replicas":
			replyErr(w, 502, "", "bad gateway")
		case "POST /secrets/throttled/versions":
			if n == 1 {
				replyErr(w, 429, "APIGW.0308", "throttled")
				return
			}
			reply(w, 200, `{"version_metadata":{"id":"v2","version_stages":["SYSCURRENT"]}}`)
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "demo", Value: StringValue(canary)}); !errors.Is(err, ErrTransient) {
		t.Errorf("CreateSecret = %v, want ErrTransient", err)
	} else if strings.Contains(err.Error(), canary) {
		t.Errorf("error leaks the value: %v", err)
	}
	if _, err := c.PutValue(ctx, "demo", StringValue(canary)); !errors.Is(err, ErrTransient) {
		t.Errorf("PutValue = %v, want ErrTransient", err)
	} else if strings.Contains(err.Error(), canary) {
		t.Errorf("error leaks the value: %v", err)
	}
	if _, err := c.CreateReplica(ctx, "demo", ReplicaInput{Region: "ap-southeast-3", ProjectID: "p"}); !errors.Is(err, ErrTransient) {
		t.Errorf("CreateReplica = %v, want ErrTransient", err)
	}
	for _, k := range []string{"POST /secrets", "POST /secrets/demo/versions", "POST /secrets/demo/replicas"} {
		if n := f.count(k); n != 1 {
			t.Errorf("%s sent %d times, want exactly 1", k, n)
		}
	}
	// The 500 on create is not confirmed as "exists": only a 4xx triggers the read.
	if n := f.count("GET /secrets/demo"); n != 0 {
		t.Errorf("create 5xx triggered %d reads", n)
	}
	var logs strings.Builder
	logger := funcr.New(func(prefix, args string) { logs.WriteString(prefix + args + "\n") }, funcr.Options{Verbosity: 1})
	id, err := c.PutValue(logr.NewContext(ctx, logger), "throttled", StringValue(canary))
	if err != nil || id != "v2" {
		t.Errorf("PutValue after 429 = %q, %v", id, err)
	}
	if !strings.Contains(logs.String(), "Retrying CSMS call") || strings.Contains(logs.String(), canary) {
		t.Errorf("retry log missing or leaking the value: %s", logs.String())
	}
	if n := f.count("POST /secrets/throttled/versions"); n != 2 {
		t.Errorf("throttled PutValue sent %d times, want 2", n)
	}
}

func TestIdempotentCallsAreRetriedAfterDrop(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		if n == 1 {
			drop(w)
			return
		}
		reply(w, 200, secretJSON)
	})
	c := newTestClient(t, f.URL, nil)
	if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if n := f.count("GET /secrets/demo"); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

// Connection refused means the request never left, so even CreateSecret is retried.
func TestRefusedConnectionIsRetriedEvenForCreate(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c := newTestClient(t, "http://"+addr, func(c *Config) { c.MaxRetries = 2 })
	before := testutil.ToFloat64(apiRequests.WithLabelValues(opCreateSecret, "error"))
	_, err = c.CreateSecret(context.Background(), CreateSecretInput{Name: "demo", Value: StringValue(canary)})
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("err = %v, want ErrTransient", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("error leaks the value: %v", err)
	}
	if d := testutil.ToFloat64(apiRequests.WithLabelValues(opCreateSecret, "error")) - before; d != 3 {
		t.Errorf("attempts = %v, want 3 (1 + 2 retries)", d)
	}
}

func TestCreateAlreadyExistsIsConfirmedByRead(t *testing.T) {
	exists := true
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		switch key {
		case "POST /secrets":
			var b map[string]any
			_ = json.NewDecoder(r.Body).Decode(&b)
			replyErr(w, 400, "CSMS.0104", "The secret already exists.")
		case "POST /secrets/x":
		case "GET /secrets/demo":
			if exists {
				reply(w, 200, secretJSON)
			} else {
				replyErr(w, 404, "CSMS.0106", "not found")
			}
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	_, err := c.CreateSecret(ctx, CreateSecretInput{Name: "demo", Value: StringValue(canary)})
	if !errors.Is(err, ErrAlreadyExists) || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrAlreadyExists only", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "CSMS.0104" || ae.Operation != opCreateSecret {
		t.Errorf("APIError = %+v", ae)
	}
	if n := f.count("GET /secrets/demo"); n != 1 {
		t.Errorf("confirming reads = %d, want 1", n)
	}

	// Same code, but the read finds nothing: the code alone does not make it "exists".
	exists = false
	_, err = c.CreateSecret(ctx, CreateSecretInput{Name: "demo", Value: StringValue(canary)})
	if errors.Is(err, ErrAlreadyExists) || !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestCreateValidationErrorIsNotReadBack(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		if key == "POST /secrets" {
			replyErr(w, 400, "CSMS.0002", "Invalid parameter rotation_period")
			return
		}
		reply(w, 200, secretJSON)
	})
	c := newTestClient(t, f.URL, nil)
	_, err := c.CreateSecret(context.Background(), CreateSecretInput{Name: "demo", Value: StringValue("v")})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	if n := f.count("GET /secrets/demo"); n != 0 {
		t.Errorf("validation error triggered %d reads", n)
	}
}

func TestContextCancellationReturnsPromptly(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	c := newTestClient(t, f.URL, func(c *Config) { c.Timeout = 3 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetSecret(ctx, "demo")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTransient) {
		t.Fatalf("err = %v, want DeadlineExceeded and ErrTransient", err)
	}
	// Generous bound: the SDK call itself would take the full 3s timeout.
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Errorf("returned after %v; ctx cancellation was not honoured", el)
	}
}

func TestHTTPTimeoutBoundsEachAttempt(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
			return
		}
		reply(w, 200, secretJSON)
	})
	c := newTestClient(t, f.URL, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
		t.Fatalf("GetSecret after one timed-out attempt: %v", err)
	}
	if n := f.count("GET /secrets/demo"); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestRateLimiterSpacesCalls(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) { reply(w, 200, secretJSON) })
	c := newTestClient(t, f.URL, func(c *Config) { c.QPS = 10; c.Burst = 1 })
	start := time.Now()
	for i := 0; i < 6; i++ {
		if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
			t.Fatal(err)
		}
	}
	// 6 calls at 10/s with burst 1 need at least 5 intervals of 100ms; only a lower
	// bound is asserted, which a slow machine cannot break.
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Errorf("6 calls took %v; the limiter did not hold them back", el)
	}
}

func TestLimiterIsSharedPerCredential(t *testing.T) {
	mk := func(ak, endpoint string) *sdkClient {
		c, err := New(Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: endpoint, Credentials: StaticCredentials{AccessKey: ak, SecretKey: "sk"}, QPS: 3, Burst: 4})
		if err != nil {
			t.Fatal(err)
		}
		return c.(*sdkClient)
	}
	a1 := mk("shared-ak", "http://127.0.0.1:1")
	a2 := mk("shared-ak", "http://127.0.0.1:1")
	b := mk("other-ak", "http://127.0.0.1:1")
	e := mk("shared-ak", "http://127.0.0.1:2")
	if a1.limiter != a2.limiter {
		t.Error("two clients with the same credentials have separate limiters")
	}
	if a1.limiter == b.limiter || a1.limiter == e.limiter {
		t.Error("different credentials or endpoints share a limiter")
	}
	if a1.limiter.Limit() != 3 || a1.limiter.Burst() != 4 {
		t.Errorf("limiter = %v/%d", a1.limiter.Limit(), a1.limiter.Burst())
	}
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) { reply(w, 200, secretJSON) })
	c := newTestClient(t, f.URL, func(c *Config) { c.QPS = 0.01; c.Burst = 1 })
	if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.GetSecret(ctx, "demo")
	if !errors.Is(err, ErrThrottled) {
		t.Errorf("err = %v, want ErrThrottled (the wait would pass the deadline)", err)
	}
	if n := f.count("GET /secrets/demo"); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestRequestBodies(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		switch {
		case strings.HasSuffix(key, "/versions"):
			reply(w, 200, `{"version_metadata":{"id":"v2"}}`)
		case strings.HasSuffix(key, "/replicas"):
			reply(w, 200, `{"replica":{"id":"r9","region":"ap-southeast-3","project_id":"p2","replica_type":"REPLICA","status":"IN_PROGRESS","created_at":1000}}`)
		case strings.HasSuffix(key, "/tags/action"):
			reply(w, 200, "")
		default:
			reply(w, 200, secretJSON)
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "demo", Value: StringValue("text"), SecretType: SecretTypeRDSFG,
		RotationConfig: `{"InstanceId":"i","SecretSubType":"SingleUser"}`, EventSubscriptions: []string{"ev1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "bin", Value: BinaryValue([]byte{0, 1, 2, 255})}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateSecret(ctx, "demo", UpdateSecretInput{Description: ptr(""), EventSubscriptions: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleDeletion(ctx, "demo", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutValue(ctx, "demo", BinaryValue([]byte("xyz"))); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTags(ctx, "sid", map[string]string{"b": "2", "a": "1"}, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	rep, err := c.CreateReplica(ctx, "demo", ReplicaInput{Region: "ap-southeast-3", ProjectID: "p2"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID != "r9" || rep.Status != ReplicaStatusInProgress || rep.CreatedAt.UnixMilli() != 1000 {
		t.Errorf("replica = %+v", rep)
	}

	checks := []struct {
		key  string
		i    int
		want map[string]any
	}{
		{"POST /secrets", 0, map[string]any{"name": "demo", "secret_string": "text", "secret_type": "RDS-FG",
			"rotation_config": `{"InstanceId":"i","SecretSubType":"SingleUser"}`, "event_subscriptions": []any{"ev1"}}},
		{"POST /secrets", 1, map[string]any{"name": "bin", "secret_binary": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})}},
		{"PUT /secrets/demo", 0, map[string]any{"description": "", "event_subscriptions": []any{}}},
		{"POST /secrets/demo/scheduled-deleted-tasks/create", 0, map[string]any{"recovery_window_in_days": float64(7)}},
		{"POST /secrets/demo/versions", 0, map[string]any{"secret_binary": base64.StdEncoding.EncodeToString([]byte("xyz"))}},
		{"POST /csms/sid/tags/action", 0, map[string]any{"action": "delete", "tags": []any{map[string]any{"key": "old"}}}},
		{"POST /csms/sid/tags/action", 1, map[string]any{"action": "create", "tags": []any{
			map[string]any{"key": "a", "value": "1"}, map[string]any{"key": "b", "value": "2"}}}},
		{"POST /secrets/demo/replicas", 0, map[string]any{"region": "ap-southeast-3", "project_id": "p2"}},
	}
	for _, ck := range checks {
		if d := cmp.Diff(ck.want, f.body(ck.key, ck.i)); d != "" {
			t.Errorf("%s #%d body (-want +got):\n%s", ck.key, ck.i, d)
		}
	}
}

func TestUpdateTagsSkipsEmptyActions(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) { reply(w, 200, "") })
	c := newTestClient(t, f.URL, nil)
	if err := c.UpdateTags(context.Background(), "sid", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTags(context.Background(), "sid", map[string]string{"k": "v"}, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.count("POST /csms/sid/tags/action"); n != 1 {
		t.Errorf("tag calls = %d, want 1", n)
	}
}

func TestGetCurrentValue(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		switch key {
		case "GET /secrets/text/versions/latest":
			reply(w, 200, `{"version":{"version_metadata":{"id":"v3","version_stages":["SYSCURRENT"]},"secret_string":"`+canary+`"}}`)
		case "GET /secrets/bin/versions/latest":
			reply(w, 200, `{"version":{"version_metadata":{"id":"v1","version_stages":["SYSCURRENT"]},"secret_binary":"`+base64.StdEncoding.EncodeToString([]byte(canary))+`"}}`)
		case "GET /secrets/moved/versions/latest":
			reply(w, 200, `{"version":{"version_metadata":{"id":"v5","version_stages":["MINE"]},"secret_string":"newest"}}`)
		case "GET /secrets/moved/stages/SYSCURRENT":
			reply(w, 200, `{"stage":{"name":"SYSCURRENT","version_id":"v4","secret_name":"moved"}}`)
		case "GET /secrets/moved/versions/v4":
			reply(w, 200, `{"version":{"version_metadata":{"id":"v4","version_stages":["SYSCURRENT"]},"secret_string":"current"}}`)
		case "GET /secrets/garbled/versions/latest":
			reply(w, 200, `{"version":{"secret_string":`+canary+`}}`)
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	v, id, err := c.GetCurrentValue(ctx, "text")
	if err != nil || id != "v3" || !v.Equal(StringValue(canary)) {
		t.Errorf("text: id=%q err=%v equal=%v", id, err, v.Equal(StringValue(canary)))
	}
	v, id, err = c.GetCurrentValue(ctx, "bin")
	if err != nil || id != "v1" || !v.Equal(BinaryValue([]byte(canary))) {
		t.Errorf("bin: id=%q err=%v", id, err)
	}
	v, id, err = c.GetCurrentValue(ctx, "moved")
	if err != nil || id != "v4" || !v.Equal(StringValue("current")) {
		t.Errorf("moved stage: id=%q err=%v", id, err)
	}
	_, _, err = c.GetCurrentValue(ctx, "garbled")
	if !errors.Is(err, ErrTransient) || strings.Contains(err.Error(), canary) {
		t.Errorf("garbled body: %v", err)
	}
}

func TestValueSizeIsCheckedBeforeSending(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) { reply(w, 200, secretJSON) })
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	big := strings.Repeat("x", MaxValueBytes+1)
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "n", Value: StringValue(big)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized create = %v", err)
	}
	// 49 KiB of binary is 65.3 KB of base64: over the limit as sent.
	if _, err := c.PutValue(ctx, "n", BinaryValue(make([]byte, 49*1024))); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized binary PutValue = %v", err)
	}
	if _, err := c.PutValue(ctx, "n", Value{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero value PutValue = %v", err)
	}
	if n := f.count("POST /secrets") + f.count("POST /secrets/n/versions"); n != 0 {
		t.Errorf("%d oversized requests were sent", n)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no region", Config{Credentials: StaticCredentials{AccessKey: "a", SecretKey: "s"}}},
		{"unknown region without endpoint", Config{Region: "xx-nowhere-1", ProjectID: testProject, Credentials: StaticCredentials{AccessKey: "a", SecretKey: "s"}}},
		{"endpoint without project", Config{Region: "cn-north-4", Endpoint: "http://127.0.0.1:1", Credentials: StaticCredentials{AccessKey: "a", SecretKey: "s"}}},
		{"no credentials", Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: "http://127.0.0.1:1"}},
		{"empty keys", Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: "http://127.0.0.1:1", Credentials: StaticCredentials{}}},
		{"no secret key", Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: "http://127.0.0.1:1", Credentials: StaticCredentials{AccessKey: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
	// A region in the SDK's static table resolves without any network call when the
	// project is given.
	if _, err := New(Config{Region: "ap-southeast-3", ProjectID: testProject, Credentials: StaticCredentials{AccessKey: "a", SecretKey: "s"}}); err != nil {
		t.Errorf("static region: %v", err)
	}
}

// HUAWEICLOUD_SDK_REGION_CSMS_<REGION> points an unknown region at an endpoint (the SDK
// resolves it; New must not refuse the region first).
func TestRegionFromEnvironment(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) { reply(w, 200, secretJSON) })
	// The SDK caches env regions for the life of the process: use a fresh region id per run.
	n := time.Now().UnixNano()
	t.Setenv(fmt.Sprintf("HUAWEICLOUD_SDK_REGION_CSMS_XX_TEST_%d", n), f.URL)
	c, err := New(Config{Region: fmt.Sprintf("xx-test-%d", n), ProjectID: testProject, Credentials: StaticCredentials{AccessKey: "ak-env-region", SecretKey: "s"}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if n := f.count("GET /secrets/demo"); n != 1 {
		t.Errorf("requests at the env endpoint = %d", n)
	}
}

func TestEnvironmentCredentials(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "SDK-HMAC-SHA256 Access=env-ak,") {
			replyErr(w, 401, "APIGW.0301", "wrong ak")
			return
		}
		reply(w, 200, secretJSON)
	})
	t.Setenv("HUAWEICLOUD_SDK_AK", "env-ak")
	t.Setenv("HUAWEICLOUD_SDK_SK", "env-sk")
	c, err := New(Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: f.URL, Credentials: EnvironmentCredentials{}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.GetSecret(context.Background(), "demo"); err != nil {
		t.Fatalf("GetSecret with environment credentials: %v", err)
	}
}

// A 2xx write reply without its object is not a success: the caller would use a nil
// replica or an empty version ID. It is transient (the write probably happened), sent
// once, and says to re-read.
func TestWriteReplyWithoutObjectIsTransient(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) { reply(w, 200, `{}`) })
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	rep, err := c.CreateReplica(ctx, "demo", ReplicaInput{Region: "ap-southeast-3", ProjectID: "p"})
	var ae *APIError
	if rep != nil || !errors.Is(err, ErrTransient) || errors.Is(err, ErrInvalid) || !errors.As(err, &ae) {
		t.Fatalf("CreateReplica without replica = %v, %v; want nil, ErrTransient", rep, err)
	}
	if ae.Operation != "CreateReplica" || ae.Message != "CreateReplica response has no replica; the replica may exist: re-read the secret" {
		t.Errorf("error = %+v", ae)
	}
	id, err := c.PutValue(ctx, "demo", StringValue(canary))
	if id != "" || !errors.Is(err, ErrTransient) || strings.Contains(err.Error(), canary) {
		t.Errorf("PutValue without version id = %q, %v; want ErrTransient", id, err)
	}
	for _, k := range []string{"POST /secrets/demo/replicas", "POST /secrets/demo/versions"} {
		if n := f.count(k); n != 1 {
			t.Errorf("%s sent %d times, want 1", k, n)
		}
	}
}

// versionsPage is a ListSecretVersions reply with versions from..to and next marker.
func versionsPage(from, to int, next string) string {
	var items []string
	for i := from; i <= to; i++ {
		items = append(items, fmt.Sprintf(`{"id":"v%d","version_stages":[]}`, i))
	}
	page := `{"previous_marker":""}`
	if next != "" {
		page = `{"next_marker":"` + next + `"}`
	}
	return `{"version_metadatas":[` + strings.Join(items, ",") + `],"page_info":` + page + `}`
}

// A refused PutValue is ErrVersionLimit only when a read of the version list, paged,
// counts MaxVersions; otherwise the refusal stays what it was.
func TestVersionLimitIsConfirmedByPagedRead(t *testing.T) {
	var qmu sync.Mutex
	var fullQueries []string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		marker := r.URL.Query().Get("marker")
		if key == "GET /secrets/full/versions" {
			qmu.Lock()
			fullQueries = append(fullQueries, r.URL.Query().Encode())
			qmu.Unlock()
		}
		switch key {
		case "POST /secrets/full/versions", "POST /secrets/few/versions", "POST /secrets/stuck/versions", "POST /secrets/unreadable/versions":
			replyErr(w, 400, "CSMS.0002", "Invalid parameter")
		case "POST /secrets/gone/versions":
			replyErr(w, 404, "CSMS.0106", "not found")
		case "GET /secrets/full/versions":
			if marker == "" {
				reply(w, 200, versionsPage(1, 15, "v15"))
			} else {
				reply(w, 200, versionsPage(16, 20, ""))
			}
		case "GET /secrets/few/versions":
			reply(w, 200, versionsPage(1, 2, ""))
		case "GET /secrets/stuck/versions":
			reply(w, 200, versionsPage(1, 5, "v5"))
		case "GET /secrets/unreadable/versions":
			replyErr(w, 500, "CSMS.0000", "internal")
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()

	_, err := c.PutValue(ctx, "full", StringValue(canary))
	var ae *APIError
	if !errors.Is(err, ErrVersionLimit) || errors.Is(err, ErrInvalid) || !errors.As(err, &ae) || ae.Code != "CSMS.0002" || ae.StatusCode != 400 {
		t.Fatalf("full = %v, want ErrVersionLimit only, keeping the service's code", err)
	}
	if strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), "[version limit reached]") {
		t.Errorf("error text: %v", err)
	}
	if n := f.count("GET /secrets/full/versions"); n != 2 {
		t.Errorf("full: %d list pages read, want 2", n)
	}
	qmu.Lock()
	if d := cmp.Diff([]string{"limit=50", "limit=50&marker=v15"}, fullQueries); d != "" {
		t.Errorf("full: list queries (-want +got):\n%s", d)
	}
	qmu.Unlock()

	for name, want := range map[string]error{"few": ErrInvalid, "stuck": ErrInvalid, "unreadable": ErrInvalid, "gone": ErrNotFound} {
		_, err := c.PutValue(ctx, name, StringValue(canary))
		if !errors.Is(err, want) || errors.Is(err, ErrVersionLimit) {
			t.Errorf("%s = %v, want %v", name, err, want)
		}
	}
	// A marker that does not move ends the count instead of looping.
	if n := f.count("GET /secrets/stuck/versions"); n != 2 {
		t.Errorf("stuck: %d list pages read, want 2", n)
	}
	// A not-found write needs no read.
	if n := f.count("GET /secrets/gone/versions"); n != 0 {
		t.Errorf("gone: %d list reads", n)
	}
}

func TestCurrentVersionIDReadsTheStageOnly(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, key string, n int) {
		switch key {
		case "GET /secrets/demo/stages/SYSCURRENT":
			reply(w, 200, `{"stage":{"name":"SYSCURRENT","version_id":"v7","secret_name":"demo","update_time":1}}`)
		case "GET /secrets/empty/stages/SYSCURRENT":
			reply(w, 200, `{"stage":{"name":"SYSCURRENT","secret_name":"empty"}}`)
		case "GET /secrets/none/stages/SYSCURRENT":
			replyErr(w, 404, "CSMS.0106", "not found")
		case "GET /secrets/pending/stages/SYSCURRENT":
			replyErr(w, 400, "CSMS.0103", "scheduled deletion")
		}
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	if id, err := c.CurrentVersionID(ctx, "demo"); err != nil || id != "v7" {
		t.Errorf("demo = %q, %v", id, err)
	}
	if _, err := c.CurrentVersionID(ctx, "empty"); !errors.Is(err, ErrTransient) {
		t.Errorf("stage without version = %v, want ErrTransient", err)
	}
	if _, err := c.CurrentVersionID(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing secret = %v, want ErrNotFound", err)
	}
	if _, err := c.CurrentVersionID(ctx, "pending"); !errors.Is(err, ErrPendingDelete) {
		t.Errorf("pending secret = %v, want ErrPendingDelete", err)
	}
	if n := f.count("GET /secrets/demo/stages/SYSCURRENT"); n != 1 {
		t.Errorf("%d stage reads for one call", n)
	}
	got := testutil.ToFloat64(apiRequests.WithLabelValues("ShowSecretStage", "200"))
	if got < 1 {
		t.Errorf("ShowSecretStage metric = %v", got)
	}
}

// A Config printed by accident (%v, %+v, %#v) shows no credential, and Redact scrubs
// every value a source knows of.
func TestCredentialsNeverPrintValues(t *testing.T) {
	const ak, sk, token = "CANARY-AK-0d1e", "CANARY-SK-9b2c", "CANARY-TOKEN-77aa"
	cfg := Config{Region: "cn-north-4", Credentials: StaticCredentials{AccessKey: ak, SecretKey: sk, SecurityToken: token}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, cfg)
		if strings.Contains(out, ak) || strings.Contains(out, sk) || strings.Contains(out, token) {
			t.Errorf("%s of a Config prints a credential", format)
		}
	}
	if got := cfg.Credentials.Redact("a " + ak + " b " + sk + " c " + token); got != "a [redacted] b [redacted] c [redacted]" {
		t.Errorf("StaticCredentials.Redact = %q", got)
	}

	t.Setenv("HUAWEICLOUD_SDK_AK", ak)
	t.Setenv("HUAWEICLOUD_SDK_SK", sk)
	if got := (EnvironmentCredentials{}).Redact("x" + sk + "y" + ak); got != "x[redacted]y[redacted]" {
		t.Errorf("EnvironmentCredentials.Redact = %q", got)
	}
}
