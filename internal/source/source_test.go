package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/csms-operator/csms-operator/internal/csms"
)

const canary = "canary-Zq7pL0ud"

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestRead(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(
		secret("team-a", "db", map[string]string{"password": canary, "user": "app<&>", "empty": ""}),
		secret("team-b", "other", map[string]string{"password": "b"}),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "bin"},
			Data: map[string][]byte{"p12": {0xff, 0x00, 0xfe}}},
		secret("team-a", "big", map[string]string{"k": strings.Repeat("x", csms.MaxValueBytes+1)}),
		secret("team-a", "nokeys", nil),
	).Build()
	r := &Reader{Client: c}

	tests := []struct {
		name     string
		ns       string
		ref      Ref
		wantText string
		wantBin  []byte
		wantErr  error
	}{
		{name: "one key as text", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "db", Key: "password"}, wantText: canary},
		{name: "whole secret as sorted JSON without HTML escaping", ns: "team-a", ref: Ref{Kind: KindSecret, Name: "db"},
			wantText: `{"empty":"","password":"` + canary + `","user":"app<&>"}`},
		{name: "binary key", ns: "team-a", ref: Ref{Kind: KindBinaryKey, Name: "bin", Key: "p12"}, wantBin: []byte{0xff, 0x00, 0xfe}},
		{name: "binary data as text is refused", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "bin", Key: "p12"}, wantErr: ErrInvalid},
		{name: "binary data in a JSON object is refused", ns: "team-a", ref: Ref{Kind: KindSecret, Name: "bin"}, wantErr: ErrInvalid},
		{name: "missing secret", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "nope", Key: "x"}, wantErr: ErrNotFound},
		{name: "missing key", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "db", Key: "nope"}, wantErr: ErrNotFound},
		{name: "empty key", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "db", Key: "empty"}, wantErr: ErrInvalid},
		{name: "secret without keys", ns: "team-a", ref: Ref{Kind: KindSecret, Name: "nokeys"}, wantErr: ErrNotFound},
		{name: "other namespace is never read", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "other", Key: "password"}, wantErr: ErrNotFound},
		{name: "value over 64 KB", ns: "team-a", ref: Ref{Kind: KindSecretKey, Name: "big", Key: "k"}, wantErr: ErrInvalid},
		{name: "whole secret over 64 KB", ns: "team-a", ref: Ref{Kind: KindSecret, Name: "big"}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Read(context.Background(), tt.ns, tt.ref)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), canary) {
					t.Fatalf("error leaks the value: %v", err)
				}
				return
			}
			if got.ResourceVersion == "" {
				t.Errorf("ResourceVersion is empty")
			}
			if tt.wantBin != nil {
				b, ok := got.Value.Binary()
				if !ok || string(b) != string(tt.wantBin) {
					t.Errorf("binary value mismatch (ok=%v)", ok)
				}
				return
			}
			s, ok := got.Value.Text()
			if !ok || s != tt.wantText {
				t.Errorf("Read() text = %q (ok=%v), want %q", s, ok, tt.wantText)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", got, got, got), canary) {
				t.Errorf("printing the result leaks the value")
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		v, err := Generate(32)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		s, ok := v.Text()
		if !ok || len(s) != 32 {
			t.Fatalf("Generate(32) gave %d chars (ok=%v)", len(s), ok)
		}
		for _, c := range s {
			if !strings.ContainsRune(generateAlphabet, c) {
				t.Fatalf("character %q outside the alphabet", c)
			}
		}
		if seen[s] {
			t.Fatalf("Generate repeated a value")
		}
		seen[s] = true
	}
	for _, n := range []int{0, -1, csms.MaxValueBytes + 1} {
		if _, err := Generate(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("Generate(%d) error = %v, want ErrInvalid", n, err)
		}
	}
}

func TestVersion(t *testing.T) {
	s := secret("team-a", "db", map[string]string{"password": canary})
	c := fake.NewClientBuilder().WithObjects(s).Build()
	r := &Reader{Client: c}
	got := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(s), got); err != nil {
		t.Fatal(err)
	}
	rv, err := r.Version(context.Background(), "team-a", "db")
	if err != nil || rv != got.ResourceVersion {
		t.Fatalf("Version() = %q, %v; want %q", rv, err, got.ResourceVersion)
	}
	if _, err := r.Version(context.Background(), "team-b", "db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Version() in another namespace: %v, want ErrNotFound", err)
	}
}

// TestVersionPrefersMetadataReader: with Metadata set (the manager's cache), Version never
// touches Client (the API reader), so a resync of a settled resource costs no API call.
func TestVersionPrefersMetadataReader(t *testing.T) {
	s := secret("team-a", "db", map[string]string{"password": canary})
	meta := fake.NewClientBuilder().WithObjects(s).Build()
	empty := fake.NewClientBuilder().Build()
	r := &Reader{Client: empty, Metadata: meta}
	if _, err := r.Version(context.Background(), "team-a", "db"); err != nil {
		t.Fatalf("Version() through Metadata: %v", err)
	}
	r = &Reader{Client: empty}
	if _, err := r.Version(context.Background(), "team-a", "db"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Version() without Metadata should read Client (empty): %v", err)
	}
}
