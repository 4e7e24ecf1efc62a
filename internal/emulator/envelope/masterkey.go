package envelope

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	// MasterKeyFile is the name of the master key inside the data directory.
	MasterKeyFile = "master.key"
	// KeySize is the size of the master key and of every data key (AES-256).
	KeySize = 32
)

// LoadOrCreateMasterKey returns the 32-byte master key stored in
// <dataDir>/master.key, creating it (and dataDir, mode 0700) on first use.
//
// The file is written atomically (temp file, fsync, link/rename, directory
// fsync) with mode 0600, so a crash never leaves a truncated key. An existing
// file is refused, with an error saying why, if it is not a regular file, is
// readable or writable by group or others, or is not exactly 32 bytes: using a
// key someone else could read, or a damaged one, would silently defeat or
// destroy the encryption at rest.
func LoadOrCreateMasterKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, MasterKeyFile)
	key, err := readMasterKey(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	created, err := createMasterKey(dataDir, path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our link: use theirs
		// so both agree on one key.
		return readMasterKey(path)
	}
	return created, err
}

func readMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("open master key %s: %w", path, err)
	}
	// Read-only handle: a Close error cannot lose data, and the key is already read
	// (or the read error returned) by then.
	defer func() { _ = f.Close() }()
	// Stat the opened file, not the path, so the checks apply to what we read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat master key %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key %s is not a regular file (mode %s): refusing to use it", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key %s has mode %#o, which lets group or others access it: refusing to use it; run chmod 600 %s if it has not leaked, otherwise rotate it", path, perm, path)
	}
	if fi.Size() != KeySize {
		return nil, fmt.Errorf("master key %s is %d bytes, want %d: refusing to use a damaged key (restore it from backup; deleting it makes every stored value unreadable)", path, fi.Size(), KeySize)
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("read master key %s: %w", path, err)
	}
	return key, nil
}

func createMasterKey(dir, path string) (key []byte, err error) {
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	// CreateTemp opens with 0600; the umask can only narrow that.
	tmp, err := os.CreateTemp(dir, ".master.key.tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary master key file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer func() {
		// After a successful link the temp name is just a second hard link.
		_ = os.Remove(tmpName)
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("chmod temporary master key file: %w", err), tmp.Close())
	}
	if _, err := tmp.Write(key); err != nil {
		return nil, errors.Join(fmt.Errorf("write temporary master key file: %w", err), tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return nil, errors.Join(fmt.Errorf("fsync temporary master key file: %w", err), tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("close temporary master key file: %w", err)
	}
	// Link instead of rename: it fails if master.key appeared meanwhile, so we
	// never replace a key that may already protect data.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Filesystems without hard links: fall back to rename after checking
		// once more that nothing is there.
		if _, serr := os.Lstat(path); serr == nil {
			return nil, fs.ErrExist
		}
		if rerr := os.Rename(tmpName, path); rerr != nil {
			return nil, fmt.Errorf("install master key %s: %w", path, rerr)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return key, nil
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open data directory %s for fsync: %w", dir, err)
	}
	// Read-only directory handle: durability is decided by Sync below, whose error is
	// returned; a Close error afterwards says nothing about the entry.
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync data directory %s: %w", dir, err)
	}
	return nil
}
