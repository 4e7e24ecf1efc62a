package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const canary = "CANARY-plaintext-7f3a9c-do-not-leak"

// memStore is an in-memory KeyStore that counts puts.
type memStore struct {
	mu   sync.Mutex
	keys map[string][]byte
	puts int
}

func newMemStore() *memStore { return &memStore{keys: map[string][]byte{}} }

func (m *memStore) GetWrappedKey(cmk string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.keys[cmk]
	return bytes.Clone(w), ok, nil
}

func (m *memStore) PutWrappedKey(cmk string, wrapped []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[cmk] = bytes.Clone(wrapped)
	m.puts++
	return nil
}

func testMaster(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestRoundTrip(t *testing.T) {
	k := NewKeyring(testMaster(1), newMemStore())
	for _, tc := range []struct {
		name      string
		cmk       string
		plaintext []byte
		aad       []byte
	}{
		{"default CMK", "csms/default", []byte(canary), []byte("proj/secret/v1")},
		{"unknown CMK id", "0d0466b0-e727-4d9c-b35d-f84bb474a37f", []byte("x"), nil},
		{"empty plaintext", "csms/default", []byte{}, []byte("ctx")},
		{"64 KiB binary", "csms/default", bytes.Repeat([]byte{0, 0xff}, 32<<10), []byte("ctx")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := k.Encrypt(tc.cmk, tc.plaintext, tc.aad)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if ct[0] != formatV1 {
				t.Fatalf("version byte = %d", ct[0])
			}
			pt, err := k.Decrypt(tc.cmk, ct, tc.aad)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(pt, tc.plaintext) {
				t.Fatalf("round trip changed the plaintext")
			}
		})
	}
}

func TestEncryptIsRandomised(t *testing.T) {
	k := NewKeyring(testMaster(1), newMemStore())
	a, _ := k.Encrypt("csms/default", []byte(canary), nil)
	b, _ := k.Encrypt("csms/default", []byte(canary), nil)
	if bytes.Equal(a, b) || bytes.Equal(a[1:headerLen], b[1:headerLen]) {
		t.Fatal("two encryptions of the same value share nonce or bytes")
	}
}

func TestDecryptRefuses(t *testing.T) {
	ks := newMemStore()
	k := NewKeyring(testMaster(1), ks)
	aad := []byte("proj/secret/v1")
	ct, err := k.Encrypt("cmk-a", []byte(canary), aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Encrypt("cmk-b", []byte("other"), aad); err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	for _, tc := range []struct {
		name string
		k    *Keyring
		cmk  string
		ct   []byte
		aad  []byte
		want error
	}{
		{"wrong aad", k, "cmk-a", ct, []byte("proj/secret/v2"), ErrDecrypt},
		{"nil aad", k, "cmk-a", ct, nil, ErrDecrypt},
		{"wrong cmk (existing)", k, "cmk-b", ct, aad, ErrDecrypt},
		{"wrong cmk (never used)", k, "cmk-c", ct, aad, ErrNoDataKey},
		{"tampered nonce", k, "cmk-a", flip(1), aad, ErrDecrypt},
		{"tampered body", k, "cmk-a", flip(headerLen + 2), aad, ErrDecrypt},
		{"tampered tag", k, "cmk-a", flip(len(ct) - 1), aad, ErrDecrypt},
		{"truncated", k, "cmk-a", ct[:len(ct)-1], aad, ErrDecrypt},
		{"too short", k, "cmk-a", ct[:headerLen], aad, ErrMalformed},
		{"empty", k, "cmk-a", nil, aad, ErrMalformed},
		{"unknown version", k, "cmk-a", append([]byte{2}, ct[1:]...), aad, ErrUnsupportedVersion},
		{"wrong master key", NewKeyring(testMaster(2), ks), "cmk-a", ct, aad, ErrDecrypt},
		{"empty cmk", k, "", ct, aad, ErrEmptyKeyID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.k.Decrypt(tc.cmk, tc.ct, tc.aad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error leaks the plaintext: %v", err)
			}
		})
	}
	if _, found, _ := ks.GetWrappedKey("cmk-c"); found {
		t.Fatal("Decrypt created a data key for an unused CMK")
	}
}

func TestSwappedWrappedKeyRefused(t *testing.T) {
	ks := newMemStore()
	k := NewKeyring(testMaster(1), ks)
	ct, _ := k.Encrypt("cmk-a", []byte(canary), nil)
	if _, err := k.Encrypt("cmk-b", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	// Someone with write access to the store copies cmk-a's wrapped key
	// under cmk-b: the CMK binding in the wrap AAD must refuse it.
	ks.keys["cmk-b"] = bytes.Clone(ks.keys["cmk-a"])
	fresh := NewKeyring(testMaster(1), ks)
	if _, err := fresh.Decrypt("cmk-b", ct, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("err = %v, want ErrDecrypt", err)
	}
	// The value AAD alone would also refuse the line above; check the wrap
	// binding on its own.
	if _, err := fresh.unwrap("cmk-b", ks.keys["cmk-a"]); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unwrap under another CMK id: err = %v, want ErrDecrypt", err)
	}
}

func TestDataKeyPersistedAndReused(t *testing.T) {
	ks := newMemStore()
	k1 := NewKeyring(testMaster(1), ks)
	ct, err := k1.Encrypt("csms/default", []byte(canary), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k1.Encrypt("csms/default", []byte("again"), []byte("ctx")); err != nil {
		t.Fatal(err)
	}
	if ks.puts != 1 {
		t.Fatalf("data key stored %d times, want once", ks.puts)
	}
	wrapped := bytes.Clone(ks.keys["csms/default"])
	if len(wrapped) != headerLen+KeySize+16 {
		t.Fatalf("wrapped key is %d bytes", len(wrapped))
	}

	// A new Keyring (as after a restart) reads the same data key.
	k2 := NewKeyring(testMaster(1), ks)
	pt, err := k2.Decrypt("csms/default", ct, []byte("ctx"))
	if err != nil || string(pt) != canary {
		t.Fatalf("restart: Decrypt = %q, %v", pt, err)
	}
	if _, err := k2.Encrypt("csms/default", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if ks.puts != 1 || !bytes.Equal(ks.keys["csms/default"], wrapped) {
		t.Fatal("a restarted Keyring replaced the stored data key")
	}
}

func TestNoKeyMaterialOrPlaintextInOutput(t *testing.T) {
	ks := newMemStore()
	master := testMaster(7)
	k := NewKeyring(master, ks)
	ct, err := k.Encrypt("csms/default", []byte(canary), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := k.unwrap("csms/default", ks.keys["csms/default"])
	if err != nil {
		t.Fatal(err)
	}
	wrapped := ks.keys["csms/default"]
	for name, hay := range map[string][]byte{"ciphertext": ct, "wrapped key": wrapped} {
		if bytes.Contains(hay, []byte(canary)) || bytes.Contains(hay, []byte(canary[:8])) {
			t.Errorf("%s contains the canary plaintext", name)
		}
		if bytes.Contains(hay, raw[:8]) {
			t.Errorf("%s contains data key bytes", name)
		}
		if bytes.Contains(hay, master[:8]) {
			t.Errorf("%s contains master key bytes", name)
		}
	}
}

// slowStore widens the window between "not found" and "put" so that a
// Keyring without creation locking would create several keys.
type slowStore struct{ *memStore }

func (s slowStore) GetWrappedKey(cmk string) ([]byte, bool, error) {
	w, ok, err := s.memStore.GetWrappedKey(cmk)
	time.Sleep(20 * time.Millisecond) // after the read: the answer goes stale
	return w, ok, err
}

func TestConcurrentFirstUseCreatesOneKey(t *testing.T) {
	ks := newMemStore()
	k := NewKeyring(testMaster(1), slowStore{ks})
	var wg sync.WaitGroup
	cts := make([][]byte, 16)
	errs := make([]error, 16)
	start := make(chan struct{})
	for i := range cts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cts[i], errs[i] = k.Encrypt("csms/default", []byte(fmt.Sprint(i)), nil)
		}()
	}
	close(start)
	wg.Wait()
	if ks.puts != 1 {
		t.Fatalf("data key created %d times, want once", ks.puts)
	}
	fresh := NewKeyring(testMaster(1), ks)
	for i, ct := range cts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if pt, err := fresh.Decrypt("csms/default", ct, nil); err != nil || string(pt) != fmt.Sprint(i) {
			t.Fatalf("value %d: %q, %v", i, pt, err)
		}
	}
}

type failingStore struct{ err error }

func (f failingStore) GetWrappedKey(string) ([]byte, bool, error) { return nil, false, f.err }
func (f failingStore) PutWrappedKey(string, []byte) error         { return f.err }

func TestStoreAndMasterErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := NewKeyring(testMaster(1), failingStore{boom}).Encrypt("c", []byte("x"), nil); !errors.Is(err, boom) {
		t.Fatalf("store error not propagated: %v", err)
	}
	if _, err := NewKeyring(testMaster(1), nil).Encrypt("c", []byte("x"), nil); err == nil {
		t.Fatal("nil KeyStore accepted")
	}
	for _, n := range []int{0, 16, 24, 31, 33} {
		k := NewKeyring(make([]byte, n), newMemStore())
		if _, err := k.Encrypt("c", []byte("x"), nil); !errors.Is(err, ErrInvalidMasterKey) {
			t.Fatalf("%d-byte master: err = %v, want ErrInvalidMasterKey", n, err)
		}
		if _, err := k.Decrypt("c", []byte{1}, nil); err == nil {
			t.Fatalf("%d-byte master: Decrypt succeeded", n)
		}
	}
	if _, err := NewKeyring(testMaster(1), newMemStore()).Encrypt("", []byte("x"), nil); !errors.Is(err, ErrEmptyKeyID) {
		t.Fatalf("empty cmk: %v", err)
	}
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize || bytes.Equal(k1, make([]byte, KeySize)) {
		t.Fatalf("bad key: %d bytes", len(k1))
	}
	path := filepath.Join(dir, MasterKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %#o, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries (temp file left behind?)", len(entries))
	}
	k2, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load returned a different key")
	}
}

func TestLoadOrCreateMasterKeyRefusesUnsafeFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(path string) error
		wantMsg string
	}{
		{"group readable", func(p string) error { return writeKey(p, KeySize, 0o640) }, "group or others"},
		{"world readable", func(p string) error { return writeKey(p, KeySize, 0o604) }, "group or others"},
		{"group writable", func(p string) error { return writeKey(p, KeySize, 0o620) }, "group or others"},
		{"too short", func(p string) error { return writeKey(p, 16, 0o600) }, "16 bytes, want 32"},
		{"too long", func(p string) error { return writeKey(p, 33, 0o600) }, "33 bytes, want 32"},
		{"empty", func(p string) error { return writeKey(p, 0, 0o600) }, "0 bytes, want 32"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, MasterKeyFile)
			if err := tc.setup(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			_, err := LoadOrCreateMasterKey(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatal("a refused master key file was modified")
			}
		})
	}
}

func writeKey(path string, n int, mode os.FileMode) error {
	if err := os.WriteFile(path, bytes.Repeat([]byte{9}, n), 0o600); err != nil {
		return err
	}
	// Chmod explicitly: WriteFile's mode is filtered by the umask.
	return os.Chmod(path, mode)
}

func TestMasterKeyFromDiskDrivesKeyring(t *testing.T) {
	dir := t.TempDir()
	ks := newMemStore()
	m1, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := NewKeyring(m1, ks).Encrypt("csms/default", []byte(canary), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := NewKeyring(m2, ks).Decrypt("csms/default", ct, []byte("ctx")); err != nil || string(pt) != canary {
		t.Fatalf("after reload: %q, %v", pt, err)
	}
	// A different data directory means a different master key: the stored
	// data key can no longer be unwrapped.
	m3, err := LoadOrCreateMasterKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewKeyring(m3, ks).Decrypt("csms/default", ct, []byte("ctx")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("foreign master key: err = %v, want ErrDecrypt", err)
	}
}
