// Package envelope encrypts values at rest with a two-level key hierarchy:
// a master key on disk wraps one random data key per CMK id, and each value
// is sealed under its CMK's data key. Both levels use AES-256-GCM.
//
// The package is independent of the emulator: callers choose the CMK ids, the
// additional authenticated data (e.g. project/secret/version) and where
// wrapped keys are stored (KeyStore).
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// KeyStore persists wrapped (encrypted) data keys by CMK id. GetWrappedKey
// reports found=false, err=nil for an id it has never stored. The Keyring
// serialises creation within a process; a store shared by several processes
// needs its own put-if-absent guarantee.
type KeyStore interface {
	GetWrappedKey(cmk string) ([]byte, bool, error)
	PutWrappedKey(cmk string, wrapped []byte) error
}

// Sentinel errors; test with errors.Is. Error messages name the CMK id but
// never carry key material, plaintext or AAD.
var (
	// ErrInvalidMasterKey: the master key given to NewKeyring is not 32 bytes.
	ErrInvalidMasterKey = errors.New("master key must be 32 bytes")
	// ErrEmptyKeyID: an empty CMK id was passed; callers map "no key" to
	// their default id themselves.
	ErrEmptyKeyID = errors.New("empty CMK id")
	// ErrNoDataKey: Decrypt was asked for a CMK id that has no data key, so
	// nothing was ever encrypted under it.
	ErrNoDataKey = errors.New("no data key for CMK")
	// ErrMalformed: the ciphertext or wrapped key is too short to be valid.
	ErrMalformed = errors.New("malformed ciphertext")
	// ErrUnsupportedVersion: the format version byte is unknown.
	ErrUnsupportedVersion = errors.New("unsupported ciphertext format version")
	// ErrDecrypt: authentication failed: wrong AAD, wrong CMK, tampered bytes
	// or (for wrapped keys) a different master key.
	ErrDecrypt = errors.New("decryption failed")
)

const (
	// formatV1: version byte, 12-byte nonce, AES-256-GCM ciphertext and tag.
	formatV1  byte = 1
	nonceSize      = 12
	headerLen      = 1 + nonceSize

	// Domain-separation labels keep a wrapped key from ever being accepted
	// as a value and vice versa, even under the same key.
	labelDataKey = "envelope/datakey/v1"
	labelValue   = "envelope/value/v1"
)

// Keyring encrypts and decrypts values per CMK id. It is safe for concurrent
// use; unwrapped data keys are cached in memory for the Keyring's lifetime.
type Keyring struct {
	master  cipher.AEAD
	initErr error
	ks      KeyStore

	mu    sync.RWMutex
	cache map[string]cipher.AEAD // CMK id -> AEAD of its data key

	// createMu serialises cache misses so two goroutines cannot create two
	// different data keys for the same CMK.
	createMu sync.Mutex
}

// NewKeyring returns a Keyring whose data keys are wrapped by master (32
// bytes) and persisted in ks. An invalid master key is reported by every
// Encrypt/Decrypt call as ErrInvalidMasterKey.
func NewKeyring(master []byte, ks KeyStore) *Keyring {
	k := &Keyring{ks: orNilStore(ks), cache: make(map[string]cipher.AEAD)}
	if len(master) != KeySize {
		k.initErr = fmt.Errorf("got %d bytes: %w", len(master), ErrInvalidMasterKey)
		return k
	}
	aead, err := newGCM(master)
	if err != nil {
		k.initErr = fmt.Errorf("master key: %w", err)
		return k
	}
	k.master = aead
	return k
}

// orNilStore exists so a nil KeyStore fails clearly at use rather than with a nil
// pointer panic.
func orNilStore(ks KeyStore) KeyStore {
	if ks == nil {
		return nilStore{}
	}
	return ks
}

type nilStore struct{}

func (nilStore) GetWrappedKey(string) ([]byte, bool, error) {
	return nil, false, errors.New("no KeyStore configured")
}

func (nilStore) PutWrappedKey(string, []byte) error { return errors.New("no KeyStore configured") }

// Encrypt seals plaintext under cmk's data key (created and persisted on
// first use of cmk). aad is authenticated but not stored: Decrypt must be
// given the same bytes, which binds the ciphertext to its context.
func (k *Keyring) Encrypt(cmk string, plaintext, aad []byte) ([]byte, error) {
	aead, err := k.dataKey(cmk, true)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerLen, headerLen+len(plaintext)+aead.Overhead())
	out[0] = formatV1
	if _, err := rand.Read(out[1:headerLen]); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return aead.Seal(out, out[1:headerLen], plaintext, valueAAD(cmk, aad)), nil
}

// Decrypt opens a ciphertext produced by Encrypt for the same cmk and aad.
func (k *Keyring) Decrypt(cmk string, ciphertext, aad []byte) ([]byte, error) {
	if err := checkHeader(ciphertext); err != nil {
		return nil, fmt.Errorf("CMK %q: %w", cmk, err)
	}
	aead, err := k.dataKey(cmk, false)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, ciphertext[1:headerLen], ciphertext[headerLen:], valueAAD(cmk, aad))
	if err != nil {
		// GCM's own error says nothing useful; the sentinel says enough.
		return nil, fmt.Errorf("CMK %q: open value: %w", cmk, ErrDecrypt)
	}
	return pt, nil
}

// dataKey returns the cached AEAD for cmk, loading and unwrapping it from
// the KeyStore, or (when create is set) generating and persisting a new one.
func (k *Keyring) dataKey(cmk string, create bool) (cipher.AEAD, error) {
	if k.initErr != nil {
		return nil, k.initErr
	}
	if cmk == "" {
		return nil, ErrEmptyKeyID
	}
	k.mu.RLock()
	aead, ok := k.cache[cmk]
	k.mu.RUnlock()
	if ok {
		return aead, nil
	}

	k.createMu.Lock()
	defer k.createMu.Unlock()
	k.mu.RLock()
	aead, ok = k.cache[cmk]
	k.mu.RUnlock()
	if ok {
		return aead, nil
	}

	wrapped, found, err := k.ks.GetWrappedKey(cmk)
	if err != nil {
		return nil, fmt.Errorf("CMK %q: load data key: %w", cmk, err)
	}
	var raw []byte
	switch {
	case found:
		raw, err = k.unwrap(cmk, wrapped)
		if err != nil {
			return nil, err
		}
	case !create:
		return nil, fmt.Errorf("CMK %q: %w", cmk, ErrNoDataKey)
	default:
		raw = make([]byte, KeySize)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("CMK %q: generate data key: %w", cmk, err)
		}
		w, err := k.wrap(cmk, raw)
		if err != nil {
			return nil, err
		}
		if err := k.ks.PutWrappedKey(cmk, w); err != nil {
			return nil, fmt.Errorf("CMK %q: store data key: %w", cmk, err)
		}
	}
	aead, err = newGCM(raw)
	if err != nil {
		return nil, fmt.Errorf("CMK %q: data key: %w", cmk, err)
	}
	k.mu.Lock()
	k.cache[cmk] = aead
	k.mu.Unlock()
	return aead, nil
}

func (k *Keyring) wrap(cmk string, raw []byte) ([]byte, error) {
	out := make([]byte, headerLen, headerLen+len(raw)+k.master.Overhead())
	out[0] = formatV1
	if _, err := rand.Read(out[1:headerLen]); err != nil {
		return nil, fmt.Errorf("CMK %q: generate nonce: %w", cmk, err)
	}
	return k.master.Seal(out, out[1:headerLen], raw, dataKeyAAD(cmk)), nil
}

func (k *Keyring) unwrap(cmk string, wrapped []byte) ([]byte, error) {
	if err := checkHeader(wrapped); err != nil {
		return nil, fmt.Errorf("CMK %q: wrapped data key: %w", cmk, err)
	}
	raw, err := k.master.Open(nil, wrapped[1:headerLen], wrapped[headerLen:], dataKeyAAD(cmk))
	if err != nil {
		return nil, fmt.Errorf("CMK %q: unwrap data key (wrong master key or damaged store?): %w", cmk, ErrDecrypt)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("CMK %q: unwrapped data key is %d bytes: %w", cmk, len(raw), ErrMalformed)
	}
	return raw, nil
}

func checkHeader(b []byte) error {
	if len(b) < 1 {
		return ErrMalformed
	}
	if b[0] != formatV1 {
		return fmt.Errorf("version %d: %w", b[0], ErrUnsupportedVersion)
	}
	if len(b) < headerLen+16 { // 16 = GCM tag
		return fmt.Errorf("%d bytes: %w", len(b), ErrMalformed)
	}
	return nil
}

// dataKeyAAD binds a wrapped data key to its CMK id, so wrapped keys cannot
// be swapped between ids in the store.
func dataKeyAAD(cmk string) []byte {
	return appendField([]byte(labelDataKey), []byte(cmk))
}

// valueAAD binds a value to its CMK id and the caller's context. Fields are
// length-prefixed so ("a","bc") and ("ab","c") never collide.
func valueAAD(cmk string, aad []byte) []byte {
	b := appendField([]byte(labelValue), []byte(cmk))
	return appendField(b, aad)
}

func appendField(b, field []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
