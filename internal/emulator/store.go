package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The store is one bbolt file. bbolt fsyncs every committed Update (NoSync stays false),
// so a response is written only after its change is on disk.
var (
	bucketSecrets = []byte("secrets") // region\x00project\x00name → secretRec JSON
	bucketIDs     = []byte("ids")     // secret id → secrets key
	bucketEvents  = []byte("events")  // region\x00project\x00name → eventRec JSON
	bucketKeys    = []byte("keys")    // cmk scope → wrapped data key
	bucketTasks   = []byte("tasks")   // region\x00project\x00time(20 digits)\x00task id → taskRec JSON
)

type store struct {
	db *bolt.DB
}

func openStore(dataDir string) (*store, error) {
	db, err := bolt.Open(filepath.Join(dataDir, "csms.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSecrets, bucketIDs, bucketEvents, bucketKeys, bucketTasks} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create buckets: %w", err), db.Close())
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func scopeKey(region, project, name string) string {
	return region + "\x00" + project + "\x00" + name
}

func scopePrefix(region, project string) []byte {
	return []byte(region + "\x00" + project + "\x00")
}

func (s *store) getSecret(key string) (*secretRec, error) {
	var rec *secretRec
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSecrets).Get([]byte(key))
		if raw == nil {
			return nil
		}
		rec = new(secretRec)
		return json.Unmarshal(raw, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	return rec, nil
}

func (s *store) keyForID(id string) (string, error) {
	var key string
	err := s.db.View(func(tx *bolt.Tx) error {
		key = string(tx.Bucket(bucketIDs).Get([]byte(id)))
		return nil
	})
	return key, err
}

// listSecrets returns the records of one project in name order.
func (s *store) listSecrets(region, project string) ([]*secretRec, error) {
	var out []*secretRec
	prefix := scopePrefix(region, project)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSecrets).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			rec := new(secretRec)
			if err := json.Unmarshal(v, rec); err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return out, nil
}

func (s *store) allSecretKeys() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSecrets).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

func (s *store) countSecrets(region, project string) (int, error) {
	n := 0
	prefix := scopePrefix(region, project)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSecrets).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// commit writes puts and deletes in one fsynced transaction. deadIDs leave the id
// index before the puts add theirs.
func (s *store) commit(puts map[string]*secretRec, dels map[string]*secretRec, deadIDs []string, tasks []taskRec) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sb, ib := tx.Bucket(bucketSecrets), tx.Bucket(bucketIDs)
		for _, task := range tasks {
			raw, err := json.Marshal(task)
			if err != nil {
				return err
			}
			key := fmt.Sprintf("%s\x00%s\x00%020d\x00%s", task.Region, task.ProjectID, task.TaskTime, task.TaskID)
			if err := tx.Bucket(bucketTasks).Put([]byte(key), raw); err != nil {
				return err
			}
		}
		for key := range dels {
			if err := sb.Delete([]byte(key)); err != nil {
				return err
			}
		}
		for _, id := range deadIDs {
			if err := ib.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for key, rec := range puts {
			raw, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := sb.Put([]byte(key), raw); err != nil {
				return err
			}
			if err := ib.Put([]byte(rec.ID), []byte(key)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Events.

func (s *store) getEvent(key string) (*eventRec, error) {
	var ev *eventRec
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketEvents).Get([]byte(key))
		if raw == nil {
			return nil
		}
		ev = new(eventRec)
		return json.Unmarshal(raw, ev)
	})
	return ev, err
}

func (s *store) putEvent(key string, ev *eventRec) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Put([]byte(key), raw) })
}

func (s *store) deleteEvent(key string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Delete([]byte(key)) })
}

func (s *store) listEvents(region, project string) ([]*eventRec, error) {
	var out []*eventRec
	prefix := scopePrefix(region, project)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			ev := new(eventRec)
			if err := json.Unmarshal(v, ev); err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// keyStore implements envelope.KeyStore on the keys bucket. It opens its own
// transactions, so the server never calls the keyring inside a bbolt transaction.
type keyStore struct{ db *bolt.DB }

func (k keyStore) GetWrappedKey(cmk string) ([]byte, bool, error) {
	var out []byte
	err := k.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketKeys).Get([]byte(cmk)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read wrapped key: %w", err)
	}
	return out, out != nil, nil
}

func (k keyStore) PutWrappedKey(cmk string, wrapped []byte) error {
	err := k.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b.Get([]byte(cmk)) != nil {
			return errKeyExists
		}
		return b.Put([]byte(cmk), wrapped)
	})
	if errors.Is(err, errKeyExists) {
		return fmt.Errorf("wrapped key for %q already stored: %w", cmk, err)
	}
	return err
}

var errKeyExists = errors.New("key exists")

// listTasks returns the project's tasks, oldest first.
func (s *store) listTasks(region, project string) ([]taskRec, error) {
	var out []taskRec
	prefix := scopePrefix(region, project)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTasks).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var task taskRec
			if err := json.Unmarshal(v, &task); err != nil {
				return err
			}
			out = append(out, task)
		}
		return nil
	})
	return out, err
}
