// Package source reads the desired value of a ManagedSecret: one key of a Secret, a whole
// Secret as a JSON object, a binary key, or a generated password.
//
// Secrets are read with a direct GET through an uncached reader (the manager's API
// reader), so the operator never keeps the data of every Secret in the cluster in memory,
// and only from the ManagedSecret's own namespace: references carry no namespace field,
// which is what stops one tenant from pushing another tenant's Secret into the cloud.
//
// No error returned here contains a value; they name the Secret and the key only.
package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/internal/csms"
)

// Sentinel errors; every error from Read matches one of them with errors.Is.
var (
	// ErrNotFound: the referenced Secret or key does not exist (yet). The caller waits for
	// the Secret watch to trigger it again.
	ErrNotFound = errors.New("value source not found")
	// ErrInvalid: the source exists but cannot be used as a CSMS value (too large, not
	// UTF-8 for a text value, empty). Retrying without a change will not help.
	ErrInvalid = errors.New("value source invalid")
)

// Kind says how a Secret is turned into a value.
type Kind int

const (
	// KindSecretKey takes one key of a Secret as secret_string.
	KindSecretKey Kind = iota + 1
	// KindSecret takes every key of a Secret as a JSON object (keys sorted) in secret_string.
	KindSecret
	// KindBinaryKey takes one key of a Secret as secret_binary.
	KindBinaryKey
)

// Ref names a Secret in the ManagedSecret's namespace (and a key, for the key kinds).
type Ref struct {
	Kind Kind
	Name string
	Key  string
}

// Result is a value read from a Secret, with the Secret's resourceVersion so the caller
// pushes a value only when the Secret changed since the last push.
type Result struct {
	Value           csms.Value
	ResourceVersion string
}

// Reader reads values from Secrets with an uncached client.
type Reader struct {
	// Client must be an uncached reader (manager.GetAPIReader()).
	Client client.Reader
	// Metadata, when set, serves Version. The manager passes its cache, whose
	// metadata-only Secret informer (the one the source watch runs) answers without an
	// API call; nil falls back to Client.
	Metadata client.Reader
}

// Read returns the value ref points at, read from namespace.
func (r *Reader) Read(ctx context.Context, namespace string, ref Ref) (Result, error) {
	var s corev1.Secret
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return Result{}, fmt.Errorf("secret %s/%s does not exist: %w", namespace, ref.Name, ErrNotFound)
		}
		return Result{}, fmt.Errorf("reading secret %s/%s: %w", namespace, ref.Name, err)
	}
	v, err := FromSecret(&s, ref)
	if err != nil {
		return Result{}, err
	}
	return Result{Value: v, ResourceVersion: s.ResourceVersion}, nil
}

// FromSecret turns the data of s into a value as ref says.
func FromSecret(s *corev1.Secret, ref Ref) (csms.Value, error) {
	where := s.Namespace + "/" + s.Name
	switch ref.Kind {
	case KindSecretKey, KindBinaryKey:
		data, ok := s.Data[ref.Key]
		if !ok {
			return csms.Value{}, fmt.Errorf("secret %s has no key %q: %w", where, ref.Key, ErrNotFound)
		}
		if len(data) == 0 {
			return csms.Value{}, fmt.Errorf("key %q of secret %s is empty; CSMS does not store empty values: %w", ref.Key, where, ErrInvalid)
		}
		if len(data) > csms.MaxValueBytes {
			return csms.Value{}, fmt.Errorf("key %q of secret %s is %d bytes; CSMS stores at most %d: %w",
				ref.Key, where, len(data), csms.MaxValueBytes, ErrInvalid)
		}
		if ref.Kind == KindBinaryKey {
			return csms.BinaryValue(data), nil
		}
		if !utf8.Valid(data) {
			return csms.Value{}, fmt.Errorf("key %q of secret %s is not valid UTF-8; use binarySecretKeyRef for binary data: %w",
				ref.Key, where, ErrInvalid)
		}
		return csms.StringValue(string(data)), nil
	case KindSecret:
		if len(s.Data) == 0 {
			return csms.Value{}, fmt.Errorf("secret %s has no keys; add at least one: %w", where, ErrNotFound)
		}
		keys := make([]string, 0, len(s.Data))
		for k, v := range s.Data {
			if !utf8.Valid(v) {
				return csms.Value{}, fmt.Errorf("key %q of secret %s is not valid UTF-8 and cannot go into a JSON object; use binarySecretKeyRef: %w",
					k, where, ErrInvalid)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b, err := jsonObject(keys, s.Data)
		if err != nil {
			return csms.Value{}, fmt.Errorf("encoding secret %s as JSON: %w", where, ErrInvalid)
		}
		if len(b) > csms.MaxValueBytes {
			return csms.Value{}, fmt.Errorf("secret %s as a JSON object is %d bytes; CSMS stores at most %d: %w",
				where, len(b), csms.MaxValueBytes, ErrInvalid)
		}
		return csms.StringValue(string(b)), nil
	default:
		return csms.Value{}, fmt.Errorf("unknown value source kind %d: %w", ref.Kind, ErrInvalid)
	}
}

// jsonObject writes {"k":"v",...} in the order of keys without HTML escaping, so the
// cloud holds exactly the characters of the Secret (json.Marshal would turn < into \u003c).
func jsonObject(keys []string, data map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(k); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode appends a newline
		buf.WriteByte(':')
		if err := enc.Encode(string(data[k])); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// generateAlphabet avoids quotes, backslashes and whitespace so a generated password
// survives shells, connection strings and JSON without escaping.
const generateAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,-./:;<=>?@[]^_{|}~"

// Generate returns a random text value of length characters from crypto/rand, each
// character drawn uniformly from generateAlphabet.
func Generate(length int) (csms.Value, error) {
	if length <= 0 || length > csms.MaxValueBytes {
		return csms.Value{}, fmt.Errorf("generate length %d is outside 1..%d: %w", length, csms.MaxValueBytes, ErrInvalid)
	}
	out := make([]byte, length)
	max := big.NewInt(int64(len(generateAlphabet)))
	for i := range out {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return csms.Value{}, fmt.Errorf("reading random bytes: %w", err)
		}
		out[i] = generateAlphabet[n.Int64()]
	}
	v := csms.StringValue(string(out))
	clear(out)
	return v, nil
}

// Version returns the resourceVersion of the Secret name in namespace, reading only its
// metadata, so that an unchanged source costs no transfer of its data.
func (r *Reader) Version(ctx context.Context, namespace, name string) (string, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	reader := r.Metadata
	if reader == nil {
		reader = r.Client
	}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, m); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("secret %s/%s does not exist: %w", namespace, name, ErrNotFound)
		}
		return "", fmt.Errorf("reading metadata of secret %s/%s: %w", namespace, name, err)
	}
	return m.GetResourceVersion(), nil
}
