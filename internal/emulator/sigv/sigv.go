// Package sigv verifies Huawei Cloud "SDK-HMAC-SHA256" request signatures
// (the AK/SK scheme the official Go SDK uses) on the server side.
//
// The algorithm is implemented from its description (canonical request,
// string to sign, HMAC-SHA256 with the secret key), not by calling the SDK's
// signer, so that a bug in one is caught by tests against the other.
//
// The package knows nothing about the emulator: callers supply the
// access-key lookup, the clock and the allowed skew.
package sigv

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

const (
	// Algorithm is the only scheme Verify accepts in the Authorization header.
	Algorithm = "SDK-HMAC-SHA256"
	// DateFormat is the layout of the X-Sdk-Date header (always UTC).
	DateFormat = "20060102T150405Z"
	// DefaultMaxSkew is used when Verify is given a non-positive maxSkew. It
	// matches the window Huawei's API gateway is commonly reported to use.
	DefaultMaxSkew = 15 * time.Minute

	// HeaderDate, HeaderSecurityToken and HeaderContentSha256 are the headers
	// with a meaning for the signature beyond being signed.
	HeaderDate          = "X-Sdk-Date"
	HeaderSecurityToken = "X-Security-Token"
	HeaderContentSha256 = "X-Sdk-Content-Sha256"

	// UnsignedPayload is the X-Sdk-Content-Sha256 value the SDK sends for
	// non-JSON bodies; the body is then not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"

	// maxAuthLen bounds the Authorization header we are willing to parse; the
	// SDK's header is ~200 bytes, so this only stops abuse.
	maxAuthLen = 8 << 10
	// maxAccessKeyLen bounds the AK (Huawei AKs are 20 characters, temporary
	// ones a little longer) so error messages stay short.
	maxAccessKeyLen = 128
	// maxSignedHeaders bounds the number of signed header names.
	maxSignedHeaders = 64
)

// Sentinel errors. Verify wraps exactly one of them with context that never
// contains the secret key, the expected signature or the body; test with
// errors.Is.
var (
	// ErrMissingAuth: no Authorization header.
	ErrMissingAuth = errors.New("missing Authorization header")
	// ErrMalformedAuth: the Authorization header cannot be parsed, names an
	// unsupported algorithm or carries an invalid field.
	ErrMalformedAuth = errors.New("malformed Authorization header")
	// ErrUnsignedHeader: a header that must be covered by the signature
	// (X-Sdk-Date, X-Security-Token, X-Sdk-Content-Sha256) is not listed in
	// SignedHeaders.
	ErrUnsignedHeader = errors.New("required header is not signed")
	// ErrMalformedDate: X-Sdk-Date is missing, repeated or not in DateFormat.
	ErrMalformedDate = errors.New("missing or malformed X-Sdk-Date")
	// ErrDateSkew: X-Sdk-Date is further than the allowed skew from now.
	ErrDateSkew = errors.New("X-Sdk-Date outside the allowed clock skew")
	// ErrMalformedRequest: the request cannot be canonicalised (bad query
	// string, repeated single-valued header).
	ErrMalformedRequest = errors.New("request cannot be canonicalised")
	// ErrUnknownAccessKey: the lookup does not know the access key.
	ErrUnknownAccessKey = errors.New("unknown access key")
	// ErrSignatureMismatch: the signature does not match the request.
	ErrSignatureMismatch = errors.New("signature mismatch")
	// ErrBadSecurityToken: a temporary access key came without its security
	// token or with a different one, or a permanent key came with a token.
	ErrBadSecurityToken = errors.New("missing or wrong security token")
)

// authorization is the parsed Authorization header.
type authorization struct {
	accessKey     string
	signedHeaders []string // lowercase, in the order the client listed them
	signature     []byte   // decoded from hex
}

// Verify checks the SDK-HMAC-SHA256 signature of r, whose body the caller has
// already read into body (Verify does not touch r.Body). lookup maps an access
// key to its secret key and, for temporary credentials, the security token
// the request must carry. now is the server's clock (callers may shift it);
// maxSkew <= 0 means DefaultMaxSkew.
//
// On success it returns the verified access key; on failure it returns "" and
// an error wrapping one of the sentinels above.
func Verify(r *http.Request, body []byte, lookup func(ak string) (sk, securityToken string, ok bool), now time.Time, maxSkew time.Duration) (string, error) {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	values := r.Header.Values("Authorization")
	if len(values) == 0 || (len(values) == 1 && strings.TrimSpace(values[0]) == "") {
		return "", ErrMissingAuth
	}
	if len(values) > 1 {
		return "", fmt.Errorf("%d Authorization headers: %w", len(values), ErrMalformedAuth)
	}
	auth, err := parseAuthorization(values[0])
	if err != nil {
		return "", err
	}
	akq := quoteAK(auth.accessKey)

	// Headers that change what the signature means must themselves be signed,
	// otherwise a replayed request could be re-dated or re-tokened.
	if !auth.signs("x-sdk-date") {
		return "", fmt.Errorf("access key %s: x-sdk-date: %w", akq, ErrUnsignedHeader)
	}
	if len(r.Header.Values(HeaderContentSha256)) > 0 && !auth.signs("x-sdk-content-sha256") {
		return "", fmt.Errorf("access key %s: x-sdk-content-sha256: %w", akq, ErrUnsignedHeader)
	}

	date, err := checkDate(r.Header, now, maxSkew)
	if err != nil {
		return "", fmt.Errorf("access key %s: %w", akq, err)
	}

	sk, token, ok := lookup(auth.accessKey)
	if !ok || sk == "" {
		// An empty SK would let anyone sign; treat it as not configured.
		return "", fmt.Errorf("access key %s: %w", akq, ErrUnknownAccessKey)
	}

	canonical, err := canonicalRequest(r, body, auth.signedHeaders)
	if err != nil {
		return "", fmt.Errorf("access key %s: %w", akq, err)
	}
	sum := sha256.Sum256([]byte(canonical))
	stringToSign := Algorithm + "\n" + date + "\n" + hex.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte(stringToSign))
	if !hmac.Equal(mac.Sum(nil), auth.signature) {
		return "", fmt.Errorf("access key %s: %w", akq, ErrSignatureMismatch)
	}

	// Checked after the signature so that only a holder of the SK learns
	// whether the token was the problem.
	if err := checkSecurityToken(r.Header, auth, token); err != nil {
		return "", fmt.Errorf("access key %s: %w", akq, err)
	}
	return auth.accessKey, nil
}

func (a *authorization) signs(name string) bool {
	for _, h := range a.signedHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// quoteAK renders an attacker-supplied access key safely for an error message.
func quoteAK(ak string) string {
	return fmt.Sprintf("%q", ak)
}

// parseAuthorization parses
// "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex".
// It is strict about content (each field exactly once, valid names, hex
// signature) and lenient about whitespace around separators.
func parseAuthorization(v string) (*authorization, error) {
	if len(v) > maxAuthLen {
		return nil, fmt.Errorf("header longer than %d bytes: %w", maxAuthLen, ErrMalformedAuth)
	}
	v = strings.TrimSpace(v)
	alg, rest, found := strings.Cut(v, " ")
	if !found {
		return nil, fmt.Errorf("no credentials after the algorithm: %w", ErrMalformedAuth)
	}
	if alg != Algorithm {
		return nil, fmt.Errorf("unsupported algorithm %.40q: %w", alg, ErrMalformedAuth)
	}
	var (
		a                          authorization
		seenAK, seenSH, seenSig    bool
		rawAK, rawSigned, rawSigHx string
	)
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("field without '=': %w", ErrMalformedAuth)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "Access":
			if seenAK {
				return nil, fmt.Errorf("repeated field Access: %w", ErrMalformedAuth)
			}
			seenAK, rawAK = true, val
		case "SignedHeaders":
			if seenSH {
				return nil, fmt.Errorf("repeated field SignedHeaders: %w", ErrMalformedAuth)
			}
			seenSH, rawSigned = true, val
		case "Signature":
			if seenSig {
				return nil, fmt.Errorf("repeated field Signature: %w", ErrMalformedAuth)
			}
			seenSig, rawSigHx = true, val
		default:
			return nil, fmt.Errorf("unknown field %.40q: %w", key, ErrMalformedAuth)
		}
	}
	if !seenAK || !seenSH || !seenSig {
		return nil, fmt.Errorf("fields Access, SignedHeaders and Signature are all required: %w", ErrMalformedAuth)
	}

	if rawAK == "" || len(rawAK) > maxAccessKeyLen || !isToken(rawAK) {
		return nil, fmt.Errorf("invalid Access value: %w", ErrMalformedAuth)
	}
	a.accessKey = rawAK

	if rawSigned == "" {
		return nil, fmt.Errorf("empty SignedHeaders: %w", ErrMalformedAuth)
	}
	names := strings.Split(rawSigned, ";")
	if len(names) > maxSignedHeaders {
		return nil, fmt.Errorf("more than %d signed headers: %w", maxSignedHeaders, ErrMalformedAuth)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		// The SDK lowercases names; an uppercase or empty name would make the
		// canonical form ambiguous, so refuse it rather than guess.
		if n == "" || !isToken(n) || strings.ToLower(n) != n {
			return nil, fmt.Errorf("invalid signed header name %.40q: %w", n, ErrMalformedAuth)
		}
		if seen[n] {
			return nil, fmt.Errorf("signed header %.40q repeated: %w", n, ErrMalformedAuth)
		}
		seen[n] = true
	}
	a.signedHeaders = names

	if len(rawSigHx) != 2*sha256.Size {
		return nil, fmt.Errorf("signature is not %d hex digits: %w", 2*sha256.Size, ErrMalformedAuth)
	}
	sig, err := hex.DecodeString(rawSigHx)
	if err != nil {
		return nil, fmt.Errorf("signature is not hex: %w", ErrMalformedAuth)
	}
	a.signature = sig
	return &a, nil
}

// isToken reports whether s consists of HTTP token characters (RFC 9110),
// which covers header names and every AK format we know of.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkDate validates X-Sdk-Date and returns it as it must appear in the
// string to sign.
func checkDate(h http.Header, now time.Time, maxSkew time.Duration) (string, error) {
	vals := h.Values(HeaderDate)
	if len(vals) != 1 {
		return "", fmt.Errorf("%d X-Sdk-Date headers: %w", len(vals), ErrMalformedDate)
	}
	v := strings.TrimSpace(vals[0])
	t, err := time.Parse(DateFormat, v)
	// Requiring an exact round trip rejects odd spellings time.Parse accepts,
	// so the value hashed is the one the SDK would have produced.
	if err != nil || t.UTC().Format(DateFormat) != v {
		return "", fmt.Errorf("X-Sdk-Date %.40q: %w", v, ErrMalformedDate)
	}
	skew := now.Sub(t)
	if skew > maxSkew || skew < -maxSkew {
		return "", fmt.Errorf("X-Sdk-Date %s is %s from server time (allowed ±%s): %w",
			v, skew.Round(time.Second), maxSkew, ErrDateSkew)
	}
	return v, nil
}

// checkSecurityToken enforces the token binding of temporary credentials.
func checkSecurityToken(h http.Header, auth *authorization, want string) error {
	got := h.Values(HeaderSecurityToken)
	if want == "" {
		// A permanent key presented with a token is a misconfigured client;
		// the real gateway would not accept it either.
		if len(got) > 0 {
			return fmt.Errorf("security token sent with a permanent access key: %w", ErrBadSecurityToken)
		}
		return nil
	}
	if len(got) != 1 {
		return fmt.Errorf("%d X-Security-Token headers for a temporary access key: %w", len(got), ErrBadSecurityToken)
	}
	if !auth.signs("x-security-token") {
		return fmt.Errorf("x-security-token: %w: %w", ErrUnsignedHeader, ErrBadSecurityToken)
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got[0])), []byte(want)) != 1 {
		return fmt.Errorf("security token does not match: %w", ErrBadSecurityToken)
	}
	return nil
}

// canonicalRequest builds
// METHOD \n URI \n QUERY \n HEADERS \n SIGNEDHEADERS \n PAYLOADHASH.
func canonicalRequest(r *http.Request, body []byte, signed []string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	headers := canonicalHeaders(r, signed)
	payload, err := payloadHash(r.Header, body)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL.Path))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	b.WriteString(headers)
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

// canonicalURI encodes each segment of the decoded path and guarantees a
// trailing slash. The SDK signs the unescaped path it puts into URL.Path, so
// the server's decoded r.URL.Path is the matching input.
func canonicalURI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// canonicalQuery decodes the query, sorts keys and the values of each key,
// and re-encodes every pair.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("query string: %w", ErrMalformedRequest)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		vs := append([]string(nil), vals[k]...)
		sort.Strings(vs)
		ek := escape(k)
		for _, v := range vs {
			pairs = append(pairs, ek+"="+escape(v))
		}
	}
	return strings.Join(pairs, "&"), nil
}

// canonicalHeaders emits "name:value\n" for every value of every signed
// header, values sorted and trimmed. A signed header absent from the request
// contributes nothing, as in the SDK. Go's server moves Host out of r.Header,
// so "host" is taken from r.Host.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		if name == "host" {
			if r.Host != "" {
				vals = []string{r.Host}
			}
		} else {
			vals = append(vals, r.Header.Values(name)...)
		}
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(name)
			b.WriteByte(':')
			b.WriteString(strings.TrimSpace(v))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// payloadHash is the client's X-Sdk-Content-Sha256 if present (the SDK sets
// UNSIGNED-PAYLOAD for non-JSON bodies; callers that only accept JSON may
// refuse such requests), else hex SHA-256 of the body.
func payloadHash(h http.Header, body []byte) (string, error) {
	vals := h.Values(HeaderContentSha256)
	switch len(vals) {
	case 0:
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:]), nil
	case 1:
		v := vals[0]
		// A claimed digest is signed, but the body is not: make sure they
		// agree, so the claim cannot smuggle in a different body. Only the
		// SDK's explicit opt-out leaves the body unauthenticated.
		if v != UnsignedPayload {
			sum := sha256.Sum256(body)
			if !strings.EqualFold(v, hex.EncodeToString(sum[:])) {
				return "", fmt.Errorf("X-Sdk-Content-Sha256 does not match the body: %w", ErrSignatureMismatch)
			}
		}
		return v, nil
	default:
		return "", fmt.Errorf("%d X-Sdk-Content-Sha256 headers: %w", len(vals), ErrMalformedRequest)
	}
}

// escape percent-encodes every byte outside A-Za-z0-9-_.~ as uppercase %XX.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if shouldEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	t := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if shouldEscape(c) {
			t = append(t, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			t = append(t, c)
		}
	}
	return string(t)
}

func shouldEscape(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return false
	case c == '-' || c == '_' || c == '.' || c == '~':
		return false
	}
	return true
}
