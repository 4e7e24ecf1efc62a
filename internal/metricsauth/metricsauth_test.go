package metricsauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
)

// fakeReviewer answers reviews from two tables and counts them (the real API server is
// exercised by the e2e suite, test/e2e TestMetricsEndpointAuthorisation).
type fakeReviewer struct {
	mu       sync.Mutex
	users    map[string]authenticationv1.UserInfo // token → user
	allowed  map[string]bool                      // user → may get /metrics
	tokenErr error
	sarErr   error
	tokens   int
	sars     []authorizationv1.SubjectAccessReviewSpec
}

func (f *fakeReviewer) ReviewToken(_ context.Context, token string) (*authenticationv1.TokenReviewStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens++
	if f.tokenErr != nil {
		return nil, f.tokenErr
	}
	u, ok := f.users[token]
	return &authenticationv1.TokenReviewStatus{Authenticated: ok, User: u}, nil
}

func (f *fakeReviewer) ReviewAccess(_ context.Context, spec authorizationv1.SubjectAccessReviewSpec) (*authorizationv1.SubjectAccessReviewStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sars = append(f.sars, spec)
	if f.sarErr != nil {
		return nil, f.sarErr
	}
	ok := f.allowed[spec.User] && spec.NonResourceAttributes != nil && spec.NonResourceAttributes.Path == "/metrics" && spec.NonResourceAttributes.Verb == "get"
	return &authorizationv1.SubjectAccessReviewStatus{Allowed: ok}, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func serve(t *testing.T, f *fakeReviewer, c *clock) http.Handler {
	t.Helper()
	h, err := NewFilter(f, c.now)(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "metrics body")
	}))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(h http.Handler, auth, path string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func newFake() *fakeReviewer {
	return &fakeReviewer{
		users: map[string]authenticationv1.UserInfo{
			"scraper-token":  {Username: "system:serviceaccount:monitoring:prometheus", UID: "u1", Groups: []string{"system:serviceaccounts"}, Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prom-0"}}},
			"stranger-token": {Username: "system:serviceaccount:default:stranger", UID: "u2"},
		},
		allowed: map[string]bool{"system:serviceaccount:monitoring:prometheus": true},
	}
}

func TestFilterAnswers(t *testing.T) {
	f := newFake()
	h := serve(t, f, &clock{t: time.Unix(1000, 0)})
	for _, tc := range []struct {
		name, auth, path string
		want             int
	}{
		{"allowed user", "Bearer scraper-token", "/metrics", http.StatusOK},
		{"scheme is case-insensitive", "bearer scraper-token", "/metrics", http.StatusOK},
		{"allowed user, other path", "Bearer scraper-token", "/debug", http.StatusForbidden},
		{"user without the role", "Bearer stranger-token", "/metrics", http.StatusForbidden},
		{"no header", "", "/metrics", http.StatusUnauthorized},
		{"not a bearer token", "Basic c2NyYXBlcjp4", "/metrics", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", "/metrics", http.StatusUnauthorized},
		{"three parts", "Bearer scraper-token extra", "/metrics", http.StatusUnauthorized},
		{"token the API server refuses", "Bearer made-up", "/metrics", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(h, tc.auth, tc.path)
			if code != tc.want {
				t.Fatalf("got %d (%q), want %d", code, body, tc.want)
			}
			if (code == http.StatusOK) != (body == "metrics body") {
				t.Fatalf("code %d with body %q: the handler ran when it should not, or the reverse", code, body)
			}
		})
	}
}

func TestFilterSendsTheUserToTheSubjectAccessReview(t *testing.T) {
	f := newFake()
	h := serve(t, f, &clock{t: time.Unix(1000, 0)})
	if code, _ := get(h, "Bearer scraper-token", "/metrics"); code != http.StatusOK {
		t.Fatalf("got %d", code)
	}
	if len(f.sars) != 1 {
		t.Fatalf("%d SubjectAccessReviews, want 1", len(f.sars))
	}
	s := f.sars[0]
	if s.User != "system:serviceaccount:monitoring:prometheus" || s.UID != "u1" || len(s.Groups) != 1 || s.Groups[0] != "system:serviceaccounts" {
		t.Errorf("review spec lost the user: %+v", s)
	}
	if v := s.Extra["authentication.kubernetes.io/pod-name"]; len(v) != 1 || v[0] != "prom-0" {
		t.Errorf("review spec lost the user's extra: %+v", s.Extra)
	}
	if s.ResourceAttributes != nil || s.NonResourceAttributes == nil || s.NonResourceAttributes.Verb != "get" {
		t.Errorf("want a non-resource get review, got %+v", s)
	}
}

func TestFilterCachesAnswersForTheirTTL(t *testing.T) {
	f := newFake()
	c := &clock{t: time.Unix(1000, 0)}
	h := serve(t, f, c)
	for range 5 {
		get(h, "Bearer scraper-token", "/metrics")
		get(h, "Bearer made-up", "/metrics")
	}
	if f.tokens != 2 || len(f.sars) != 1 {
		t.Fatalf("5 scrapes each: %d TokenReviews (want 2) and %d SubjectAccessReviews (want 1)", f.tokens, len(f.sars))
	}
	// A refused token is asked again after RefusedTokenTTL; it may have become valid.
	c.t = c.t.Add(RefusedTokenTTL)
	get(h, "Bearer made-up", "/metrics")
	if f.tokens != 3 {
		t.Fatalf("after %s the refused token was not reviewed again (%d reviews)", RefusedTokenTTL, f.tokens)
	}
	// A revoked role shows once the allow TTL is over.
	f.allowed = map[string]bool{}
	c.t = time.Unix(1000, 0).Add(AllowTTL)
	if code, _ := get(h, "Bearer scraper-token", "/metrics"); code != http.StatusForbidden {
		t.Fatalf("after the allow TTL a revoked user still got %d", code)
	}
}

func TestFilterReviewErrorsAre500AndNotCached(t *testing.T) {
	f := newFake()
	f.tokenErr = errors.New("connection refused")
	h := serve(t, f, &clock{t: time.Unix(1000, 0)})
	if code, body := get(h, "Bearer scraper-token", "/metrics"); code != http.StatusInternalServerError || strings.Contains(body, "metrics body") {
		t.Fatalf("TokenReview error: got %d %q, want 500 without metrics", code, body)
	}
	f.tokenErr = nil
	f.sarErr = errors.New("timeout")
	if code, body := get(h, "Bearer scraper-token", "/metrics"); code != http.StatusInternalServerError || strings.Contains(body, "metrics body") {
		t.Fatalf("SubjectAccessReview error: got %d %q, want 500 without metrics", code, body)
	}
	f.sarErr = nil
	if code, _ := get(h, "Bearer scraper-token", "/metrics"); code != http.StatusOK {
		t.Fatalf("after the API server recovered: got %d, want 200 (an error must not be cached)", code)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFake()
	g := &guard{reviewer: f, now: time.Now, tokens: newCache[authenticationv1.UserInfo](time.Now), access: newCache[struct{}](time.Now)}
	for i := range 3 * MaxCached {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Authorization", fmt.Sprintf("Bearer flood-%d", i))
		if _, status, err := g.authenticate(req); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("flood token %d: status %d, err %v", i, status, err)
		}
		if n := g.tokens.len(); n > MaxCached {
			t.Fatalf("token cache holds %d entries, bound %d", n, MaxCached)
		}
	}
}

func TestAccessKeyDoesNotCollide(t *testing.T) {
	a := accessKey(authenticationv1.UserInfo{Username: "a", Groups: []string{"b|c"}}, "get", "/metrics")
	b := accessKey(authenticationv1.UserInfo{Username: "a", Groups: []string{"b", "c"}}, "get", "/metrics")
	c := accessKey(authenticationv1.UserInfo{Username: "a|b"}, "get", "/metrics")
	d := accessKey(authenticationv1.UserInfo{Username: "a", Groups: []string{"c", "b"}}, "get", "/metrics")
	if a == b || a == c || b == c {
		t.Fatal("different users share a cache key")
	}
	if b != d {
		t.Fatal("group order changed the key")
	}
}
