package csms

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// redacted is what a Value shows wherever it is printed, marshalled or logged.
const redacted = "[redacted]"

// Value is a secret value: either text (secret_string) or binary (secret_binary). Its
// content never appears when printed with any fmt verb, marshalled to JSON or text, or
// logged with slog/logr; read it only through Text, Binary or Bytes where it is sent to
// CSMS or compared.
//
// The zero Value is "no value" (IsZero reports true).
type Value struct {
	// d is a pointer so that even a printer that bypasses the methods (a Value held in an
	// unexported struct field, which fmt prints without calling Format) shows only an
	// address, never the bytes. The pointee is never mutated after construction.
	d *valueData
}

type valueData struct {
	b      []byte
	binary bool
}

// StringValue returns a text value.
func StringValue(s string) Value {
	return Value{d: &valueData{b: []byte(s)}}
}

// BinaryValue returns a binary value; b is copied.
func BinaryValue(b []byte) Value {
	return Value{d: &valueData{b: append([]byte{}, b...), binary: true}}
}

// IsZero reports whether v holds no value at all.
func (v Value) IsZero() bool { return v.d == nil }

// IsBinary reports whether v is a binary value (secret_binary).
func (v Value) IsBinary() bool { return v.d != nil && v.d.binary }

// Len is the size of the value in bytes.
func (v Value) Len() int {
	if v.d == nil {
		return 0
	}
	return len(v.d.b)
}

// Text returns the value of a text secret; ok is false for binary or zero values.
func (v Value) Text() (s string, ok bool) {
	if v.d == nil || v.d.binary {
		return "", false
	}
	return string(v.d.b), true
}

// Binary returns a copy of a binary value; ok is false for text or zero values.
func (v Value) Binary() (b []byte, ok bool) {
	if v.d == nil || !v.d.binary {
		return nil, false
	}
	return append([]byte{}, v.d.b...), true
}

// Bytes returns a copy of the raw content (UTF-8 for text values); nil for the zero Value.
func (v Value) Bytes() []byte {
	if v.d == nil {
		return nil
	}
	return append([]byte{}, v.d.b...)
}

// Equal reports whether v and other have the same kind and content. The content
// comparison runs in constant time for equal lengths (only the length can leak).
// go-cmp uses this method too.
func (v Value) Equal(other Value) bool {
	if v.d == nil || other.d == nil {
		return v.d == nil && other.d == nil
	}
	sameKind := subtle.ConstantTimeByteEq(b2u8(v.d.binary), b2u8(other.d.binary))
	sameData := subtle.ConstantTimeCompare(v.d.b, other.d.b)
	if len(v.d.b) == 0 && len(other.d.b) == 0 {
		sameData = 1
	}
	return sameKind&sameData == 1
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// String implements fmt.Stringer.
func (v Value) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (v Value) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb (%s %v %+v %#v %q %x %d …) prints
// the placeholder.
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by YAML and some loggers).
func (v Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalLog implements logr.Marshaler (zapr and funcr call it).
func (v Value) MarshalLog() any { return redacted }
