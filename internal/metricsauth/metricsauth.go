// Package metricsauth guards the manager's HTTPS metrics endpoint: a request is served only
// when its bearer token is one the API server accepts (a TokenReview) and the token's user
// may get the path (a SubjectAccessReview on the non-resource URL, e.g. the metrics-reader
// ClusterRole's `get /metrics`).
//
// controller-runtime's filters.WithAuthenticationAndAuthorization does the same through
// k8s.io/apiserver's delegating authenticator and authorizer. That package links the API
// server's authentication stack (CEL, OpenTelemetry, gRPC, the konnectivity client) into
// the manager: 16 MB of a 81 MB binary, mapped into every manager's resident memory whether
// or not metrics are scraped (docs/performance.md, "Memory"). This package makes the same
// two reviews with the typed clients the manager links anyway, and caches their answers as
// that filter does: an accepted token for a minute, a refused one for 10 s, an allowed
// request for 5 minutes and a denied one for 30 s. The caches are bounded, so a flood of
// made-up tokens costs API calls but no memory beyond the bound.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// How long answers are kept (the values controller-runtime's filter gives k8s.io/apiserver).
const (
	TokenTTL        = time.Minute
	RefusedTokenTTL = 10 * time.Second
	AllowTTL        = 5 * time.Minute
	DenyTTL         = 30 * time.Second
	// ReviewTimeout bounds each TokenReview or SubjectAccessReview.
	ReviewTimeout = 10 * time.Second
	// MaxCached bounds each cache's entries.
	MaxCached = 1024
)

// Reviewer makes the two reviews. The production one is the API server (New); tests may
// give their own.
type Reviewer interface {
	ReviewToken(ctx context.Context, token string) (*authenticationv1.TokenReviewStatus, error)
	ReviewAccess(ctx context.Context, spec authorizationv1.SubjectAccessReviewSpec) (*authorizationv1.SubjectAccessReviewStatus, error)
}

// FilterProvider is a metricsserver.Options.FilterProvider that reviews with the API
// server the manager talks to.
func FilterProvider(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	r, err := NewAPIServerReviewer(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return NewFilter(r, time.Now), nil
}

// NewAPIServerReviewer returns a Reviewer that sends TokenReviews and SubjectAccessReviews
// to the API server of cfg.
func NewAPIServerReviewer(cfg *rest.Config, httpClient *http.Client) (Reviewer, error) {
	authn, err := authnclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("building the TokenReview client: %w", err)
	}
	authz, err := authzclient.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("building the SubjectAccessReview client: %w", err)
	}
	return &apiServer{authn: authn, authz: authz}, nil
}

type apiServer struct {
	authn authnclient.AuthenticationV1Interface
	authz authzclient.AuthorizationV1Interface
}

func (a *apiServer) ReviewToken(ctx context.Context, token string) (*authenticationv1.TokenReviewStatus, error) {
	tr, err := a.authn.TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return &tr.Status, nil
}

func (a *apiServer) ReviewAccess(ctx context.Context, spec authorizationv1.SubjectAccessReviewSpec) (*authorizationv1.SubjectAccessReviewStatus, error) {
	sar, err := a.authz.SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return &sar.Status, nil
}

// NewFilter returns the metrics filter: 401 without a token or with one the API server
// refuses, 403 when the user may not get the path, 500 when a review could not be made,
// and the wrapped handler otherwise. now is the clock of the caches.
func NewFilter(r Reviewer, now func() time.Time) metricsserver.Filter {
	g := &guard{reviewer: r, now: now, tokens: newCache[authenticationv1.UserInfo](now), access: newCache[struct{}](now)}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			user, status, err := g.authenticate(req)
			if err != nil {
				log.Error(err, "Authentication of a metrics request failed")
				http.Error(w, "Authentication failed", http.StatusInternalServerError)
				return
			}
			if status != http.StatusOK {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			allowed, err := g.authorize(req, user)
			if err != nil {
				log.Error(err, "Authorization of a metrics request failed", "user", user.Username)
				http.Error(w, "Authorization failed for user "+user.Username, http.StatusInternalServerError)
				return
			}
			if !allowed {
				log.V(4).Info("Metrics request denied", "user", user.Username, "path", req.URL.Path)
				http.Error(w, "Authorization denied for user "+user.Username, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, req)
		}), nil
	}
}

type guard struct {
	reviewer Reviewer
	now      func() time.Time
	tokens   *cache[authenticationv1.UserInfo]
	access   *cache[struct{}]
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header, as the API
// server reads it.
func bearerToken(req *http.Request) (string, bool) {
	parts := strings.Fields(req.Header.Get("Authorization"))
	if len(parts) != 2 || !strings.EqualFold(parts[0], "bearer") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// authenticate returns the request's user and http.StatusOK, or http.StatusUnauthorized,
// or an error when the TokenReview could not be made (not cached: the next request asks
// again).
func (g *guard) authenticate(req *http.Request) (authenticationv1.UserInfo, int, error) {
	token, ok := bearerToken(req)
	if !ok {
		return authenticationv1.UserInfo{}, http.StatusUnauthorized, nil
	}
	sum := sha256.Sum256([]byte(token)) // the cache never holds a token itself
	key := string(sum[:])
	if user, accepted, found := g.tokens.get(key); found {
		if !accepted {
			return authenticationv1.UserInfo{}, http.StatusUnauthorized, nil
		}
		return user, http.StatusOK, nil
	}
	ctx, cancel := context.WithTimeout(req.Context(), ReviewTimeout)
	defer cancel()
	st, err := g.reviewer.ReviewToken(ctx, token)
	if err != nil {
		return authenticationv1.UserInfo{}, 0, fmt.Errorf("TokenReview: %w", err)
	}
	if !st.Authenticated {
		g.tokens.put(key, authenticationv1.UserInfo{}, false, RefusedTokenTTL)
		return authenticationv1.UserInfo{}, http.StatusUnauthorized, nil
	}
	if st.User.Username == "" {
		return authenticationv1.UserInfo{}, 0, errors.New("TokenReview: authenticated without a user name")
	}
	g.tokens.put(key, st.User, true, TokenTTL)
	return st.User, http.StatusOK, nil
}

// authorize asks whether user may <method> the request's path.
func (g *guard) authorize(req *http.Request, user authenticationv1.UserInfo) (bool, error) {
	verb := strings.ToLower(req.Method)
	key := accessKey(user, verb, req.URL.Path)
	if _, allowed, found := g.access.get(key); found {
		return allowed, nil
	}
	spec := authorizationv1.SubjectAccessReviewSpec{
		User:                  user.Username,
		UID:                   user.UID,
		Groups:                user.Groups,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: req.URL.Path, Verb: verb},
	}
	if len(user.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	ctx, cancel := context.WithTimeout(req.Context(), ReviewTimeout)
	defer cancel()
	st, err := g.reviewer.ReviewAccess(ctx, spec)
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview: %w", err)
	}
	allowed := st.Allowed && !st.Denied
	ttl := DenyTTL
	if allowed {
		ttl = AllowTTL
	}
	g.access.put(key, struct{}{}, allowed, ttl)
	return allowed, nil
}

// accessKey names one (user, verb, path) question unambiguously: every part is
// length-prefixed, so no user name or group can be crafted to collide with another's.
func accessKey(user authenticationv1.UserInfo, verb, path string) string {
	var b strings.Builder
	add := func(s string) { fmt.Fprintf(&b, "%d:%s|", len(s), s) }
	add(user.Username)
	add(user.UID)
	add(verb)
	add(path)
	groups := slices.Clone(user.Groups)
	slices.Sort(groups)
	fmt.Fprintf(&b, "%d|", len(groups))
	for _, g := range groups {
		add(g)
	}
	extra := make([]string, 0, len(user.Extra))
	for k := range user.Extra {
		extra = append(extra, k)
	}
	slices.Sort(extra)
	fmt.Fprintf(&b, "%d|", len(extra))
	for _, k := range extra {
		add(k)
		vs := slices.Clone(user.Extra[k])
		slices.Sort(vs)
		fmt.Fprintf(&b, "%d|", len(vs))
		for _, v := range vs {
			add(v)
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return string(sum[:])
}

// cache is a small TTL map with at most MaxCached entries.
type cache[V any] struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]entry[V]
}

type entry[V any] struct {
	value   V
	ok      bool
	expires time.Time
}

func newCache[V any](now func() time.Time) *cache[V] {
	return &cache[V]{now: now, entries: map[string]entry[V]{}}
}

func (c *cache[V]) get(key string) (V, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.entries[key]
	if !found || !c.now().Before(e.expires) {
		var zero V
		return zero, false, false
	}
	return e.value, e.ok, true
}

func (c *cache[V]) put(key string, v V, ok bool, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= MaxCached {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= MaxCached {
			clear(c.entries) // all live: start over rather than grow
		}
	}
	c.entries[key] = entry[V]{value: v, ok: ok, expires: now.Add(ttl)}
}

func (c *cache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
