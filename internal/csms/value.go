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
	// data is unexported so reflection-based printers (e.g. %+v on a containing struct
	// via fmt's Formatter lookup, go-cmp, spew) cannot reach it without the methods below
	// being bypassed deliberately.
	data   []byte
	binary bool
	set    bool
}

// StringValue returns a text value.
func StringValue(s string) Value {
	return Value{data: []byte(s), set: true}
}

// BinaryValue returns a binary value; b is copied.
func BinaryValue(b []byte) Value {
	return Value{data: append([]byte(nil), b...), binary: true, set: true}
}

// IsZero reports whether v holds no value at all.
func (v Value) IsZero() bool { return !v.set }

// IsBinary reports whether v is a binary value (secret_binary).
func (v Value) IsBinary() bool { return v.binary }

// Len is the size of the value in bytes.
func (v Value) Len() int { return len(v.data) }

// Text returns the value of a text secret; ok is false for binary or zero values.
func (v Value) Text() (s string, ok bool) {
	if !v.set || v.binary {
		return "", false
	}
	return string(v.data), true
}

// Binary returns a copy of a binary value; ok is false for text or zero values.
func (v Value) Binary() (b []byte, ok bool) {
	if !v.set || !v.binary {
		return nil, false
	}
	return append([]byte(nil), v.data...), true
}

// Bytes returns a copy of the raw content (UTF-8 for text values).
func (v Value) Bytes() []byte { return append([]byte(nil), v.data...) }

// Equal reports whether v and other have the same kind and content. The content
// comparison runs in constant time for equal lengths.
func (v Value) Equal(other Value) bool {
	sameKind := subtle.ConstantTimeByteEq(b2u8(v.binary), b2u8(other.binary)) &
		subtle.ConstantTimeByteEq(b2u8(v.set), b2u8(other.set))
	sameData := subtle.ConstantTimeCompare(v.data, other.data)
	if len(v.data) == 0 && len(other.data) == 0 {
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
