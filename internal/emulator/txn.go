package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// txn is one serialised unit of work: records read and changed in memory, committed in
// one fsynced bbolt transaction. Keyring calls happen while building it, never inside
// a bbolt transaction.
type txn struct {
	s    *Server
	now  int64
	puts map[string]*secretRec
	dels map[string]*secretRec
	// deadIDs are ids of deleted records, removed from the id index even when a new
	// record takes the same name in the same txn (purge then re-create).
	deadIDs []string
	tasks   []taskRec // rotation tasks to record with this commit
}

// update runs fn under the write lock and commits what it changed, unless fn fails.
func (s *Server) update(fn func(t *txn) (any, *apiError)) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &txn{s: s, now: s.nowMs(), puts: map[string]*secretRec{}, dels: map[string]*secretRec{}}
	res, aerr := fn(t)
	if aerr != nil {
		return nil, aerr
	}
	if len(t.puts)+len(t.dels)+len(t.tasks) > 0 {
		if err := s.store.commit(t.puts, t.dels, t.deadIDs, t.tasks); err != nil {
			s.log.Error("Commit failed", "err", err)
			return nil, errInternal()
		}
		s.dueMu.Lock()
		for k := range t.dels {
			delete(s.due, k)
		}
		for k, rec := range t.puts {
			if d := nextDue(rec); d > 0 {
				s.due[k] = d
			} else {
				delete(s.due, k)
			}
		}
		s.dueMu.Unlock()
	}
	return res, nil
}

// get loads a record as this txn sees it (nil if absent), settled to now.
func (t *txn) get(key string) (*secretRec, *apiError) {
	if _, ok := t.dels[key]; ok {
		return nil, nil
	}
	if rec, ok := t.puts[key]; ok {
		return rec, nil
	}
	rec, err := t.s.store.getSecret(key)
	if err != nil {
		t.s.log.Error("Read failed", "err", err)
		return nil, errInternal()
	}
	if rec == nil {
		return nil, nil
	}
	return t.settle(key, rec)
}

func (t *txn) put(rec *secretRec) {
	key := scopeKey(rec.Region, rec.ProjectID, rec.Name)
	delete(t.dels, key)
	t.puts[key] = rec
}

func (t *txn) del(rec *secretRec) {
	key := scopeKey(rec.Region, rec.ProjectID, rec.Name)
	delete(t.puts, key)
	t.dels[key] = rec
	t.deadIDs = append(t.deadIDs, rec.ID)
}

// secret loads the named secret of the request's project or returns CSMS.0106.
func (t *txn) secret(c *reqCtx) (*secretRec, *apiError) {
	rec, aerr := t.get(c.key(c.params["secret_name"]))
	if aerr != nil {
		return nil, aerr
	}
	if rec == nil {
		return nil, errSecretNotFound()
	}
	return rec, nil
}

// metadataReadable says whether rec's metadata (not its values) may be read; a
// PENDING_DELETE secret's metadata stays readable while inferredPendingMetadataReadable.
func metadataReadable(rec *secretRec) *apiError {
	if !inferredPendingMetadataReadable && rec.State == statePendingDelete {
		return errPendingRead()
	}
	return nil
}

// valueReadable says whether rec's values may be read: never while PENDING_DELETE.
func valueReadable(rec *secretRec) *apiError {
	if rec.State == statePendingDelete {
		return errPendingRead()
	}
	return nil
}

// writable says whether rec may be changed: a PENDING_DELETE secret refuses writes.
func writable(rec *secretRec) *apiError {
	if rec.State == statePendingDelete {
		return errPendingWrite()
	}
	return nil
}

// primaryWritable is writable, and also refuses a replica, whose values and
// configuration follow its primary.
func primaryWritable(rec *secretRec) *apiError {
	if aerr := writable(rec); aerr != nil {
		return aerr
	}
	if rec.ReplicaType == ReplicaReplica {
		return errReplicaWrite()
	}
	return nil
}

// checked passes a loaded secret through check (one of metadataReadable, valueReadable,
// writable, primaryWritable), so handlers share the not-found and state refusals.
func checked(rec *secretRec, aerr *apiError, check func(*secretRec) *apiError) (*secretRec, *apiError) {
	if aerr != nil {
		return nil, aerr
	}
	if aerr := check(rec); aerr != nil {
		return nil, aerr
	}
	return rec, nil
}

// secretFor loads the secret named in the path and applies check.
func (t *txn) secretFor(c *reqCtx, check func(*secretRec) *apiError) (*secretRec, *apiError) {
	rec, aerr := t.secret(c)
	return checked(rec, aerr, check)
}

// secretByIDFor loads the secret whose ID is in the path and applies check.
func (t *txn) secretByIDFor(c *reqCtx, check func(*secretRec) *apiError) (*secretRec, *apiError) {
	rec, aerr := t.secretByID(c)
	return checked(rec, aerr, check)
}

// checkSubscriptions refuses event_subscriptions that name no event of the request's
// project, unless inferredEventSubscriptionUnchecked says CSMS does not check them.
func (t *txn) checkSubscriptions(c *reqCtx, subs []string) *apiError {
	if inferredEventSubscriptionUnchecked {
		return nil
	}
	for _, name := range subs {
		ev, err := t.s.store.getEvent(c.key(name))
		if err != nil {
			t.s.log.Error("Read failed", "err", err)
			return errInternal()
		}
		if ev == nil {
			return errNotFound("event")
		}
	}
	return nil
}

// secretByID resolves the tag paths' {secret_id} within the request's project.
func (t *txn) secretByID(c *reqCtx) (*secretRec, *apiError) {
	key, err := t.s.store.keyForID(c.params["secret_id"])
	if err != nil {
		return nil, errInternal()
	}
	if key == "" || !strings.HasPrefix(key, string(scopePrefix(c.region, c.project))) {
		return nil, errSecretNotFound()
	}
	rec, aerr := t.get(key)
	if aerr != nil {
		return nil, aerr
	}
	if rec == nil {
		return nil, errSecretNotFound()
	}
	return rec, nil
}

// nextDue is the earliest emulator time (ms) at which settle has work for rec; 0 = none.
func nextDue(rec *secretRec) int64 {
	var due int64
	consider := func(t int64) {
		if t > 0 && (due == 0 || t < due) {
			due = t
		}
	}
	if rec.State == statePendingDelete {
		consider(rec.ScheduledDeleteTime)
	}
	if rotatesItself(rec) {
		consider(rec.NextRotationTime)
	}
	for _, rp := range rec.Replicas {
		if rp.Status == ReplicaInProgress && rp.ReplicaType == ReplicaReplica {
			consider(rp.SyncDue)
		}
	}
	return due
}

// rotatesItself: a replica copies its primary's rotations instead of rotating.
func rotatesItself(rec *secretRec) bool {
	return rec.AutoRotation && rec.State == stateEnabled && rec.ReplicaType != ReplicaReplica
}

// settle applies what time has made due: purge after the recovery window, automatic
// rotation, replica synchronisation. It returns nil if the secret was purged.
func (t *txn) settle(key string, rec *secretRec) (*secretRec, *apiError) {
	d := nextDue(rec)
	if d == 0 || d > t.now {
		return rec, nil
	}
	if rec.purgedBy(t.now) {
		t.del(rec)
		return nil, nil
	}
	if rotatesItself(rec) && rec.NextRotationTime > 0 && rec.NextRotationTime <= t.now {
		if aerr := t.rotate(rec, true); aerr != nil {
			return nil, aerr
		}
	}
	for i := range rec.Replicas {
		rp := &rec.Replicas[i]
		if rp.ReplicaType != ReplicaReplica || rp.Status != ReplicaInProgress || rp.SyncDue > t.now {
			continue
		}
		rp.Status = t.syncReplica(rec, rp)
		rp.UpdatedAt = t.now
	}
	t.put(rec)
	return rec, nil
}

// rotate adds a version with a random value and records the rotation times.
func (t *txn) rotate(rec *secretRec, automatic bool) *apiError {
	if aerr := t.makeRoom(rec); aerr != nil {
		if !automatic {
			return aerr
		}
		// Nothing to prune: skip this period (a FAILED task) rather than fail a
		// background job.
		rec.NextRotationTime = t.now + periodMs(rec.RotationPeriod)
		t.tasks = append(t.tasks, taskRec{TaskID: newUUID(), SecretName: rec.Name, RotationFuncURN: rec.RotationFuncURN,
			TaskStatus: "FAILED", OperateType: taskOperateRotate, TaskTime: t.now, AttemptNums: 1,
			TaskErrorCode: aerr.Code, TaskErrorMsg: "The version limit is reached.", Region: rec.Region, ProjectID: rec.ProjectID})
		return nil
	}
	if _, aerr := t.addVersion(rec, randomValue(), false, nil, 0); aerr != nil {
		return aerr
	}
	t.tasks = append(t.tasks, taskRec{TaskID: newUUID(), SecretName: rec.Name, RotationFuncURN: rec.RotationFuncURN,
		TaskStatus: "SUCCESS", OperateType: taskOperateRotate, TaskTime: t.now, AttemptNums: 1,
		Region: rec.Region, ProjectID: rec.ProjectID})
	rec.RotationTime = t.now
	if rec.AutoRotation {
		rec.NextRotationTime = t.now + periodMs(rec.RotationPeriod)
	}
	return nil
}

// makeRoom lets one more version fit under MaxVersions: at the limit it drops the
// oldest version without a stage (inferredLimitPrunesDeprecated), and refuses with
// errLimit when every version holds one. The drop is part of the caller's txn, so it is
// committed (or discarded) together with the new version.
func (t *txn) makeRoom(rec *secretRec) *apiError {
	if len(rec.Versions) < MaxVersions {
		return nil
	}
	if inferredLimitPrunesDeprecated && rec.pruneOldestDeprecated() {
		return nil
	}
	return errLimit("version", MaxVersions)
}

// pruneOldestDeprecated removes the oldest version with no stage. Versions are kept in
// creation order (addVersion appends), so the first match is the oldest.
func (r *secretRec) pruneOldestDeprecated() bool {
	for i, v := range r.Versions {
		if len(v.Stages) == 0 {
			r.Versions = append(r.Versions[:i:i], r.Versions[i+1:]...)
			return true
		}
	}
	return false
}

// addVersion encrypts value into a new version vN. stages nil means the default:
// SYSCURRENT, with the old current version becoming SYSPREVIOUS.
func (t *txn) addVersion(rec *secretRec, value string, binary bool, stages []string, expire int64) (*versionRec, *apiError) {
	if aerr := t.makeRoom(rec); aerr != nil {
		return nil, aerr
	}
	rec.NextVersion++
	id := fmt.Sprintf("v%d", rec.NextVersion)
	cipher, aerr := t.s.seal(rec, rec.KmsKeyID, id, value)
	if aerr != nil {
		return nil, aerr
	}
	rec.Versions = append(rec.Versions, versionRec{ID: id, CreateTime: t.now, ExpireTime: expire,
		KmsKeyID: rec.KmsKeyID, Binary: binary, Cipher: cipher})
	v := &rec.Versions[len(rec.Versions)-1]
	if stages == nil {
		stages = []string{stageCurrent}
	}
	for _, st := range stages {
		if st == stageCurrent {
			t.moveCurrent(rec, v)
		} else {
			rec.setStage(st, v, t.now)
		}
	}
	rec.UpdateTime = t.now
	t.markReplicasOutOfSync(rec)
	return v, nil
}

// moveCurrent gives v SYSCURRENT; the previous holder becomes SYSPREVIOUS.
func (t *txn) moveCurrent(rec *secretRec, v *versionRec) {
	old := rec.stageHolder(stageCurrent)
	if old != nil && old.ID == v.ID {
		return
	}
	rec.setStage(stageCurrent, v, t.now)
	if old != nil {
		rec.setStage(stagePrevious, old, t.now)
	}
}

// markReplicasOutOfSync: a primary change makes every non-FAILED replica IN_PROGRESS.
func (t *txn) markReplicasOutOfSync(rec *secretRec) {
	for i := range rec.Replicas {
		rp := &rec.Replicas[i]
		if rp.ReplicaType != ReplicaReplica || rp.Status == ReplicaFailed {
			continue
		}
		rp.Status = ReplicaInProgress
		rp.UpdatedAt = t.now
		rp.SyncDue = t.now + t.s.cfg.ReplicationDelay.Milliseconds()
	}
}

// syncReplica copies the primary into the replica's region and project and returns
// the new status: FAILED when this process does not serve the region or the name is
// taken there by an unrelated secret.
func (t *txn) syncReplica(primary *secretRec, rp *replicaRec) string {
	if !t.s.regions[rp.Region] {
		return ReplicaFailed
	}
	key := scopeKey(rp.Region, rp.ProjectID, primary.Name)
	target, aerr := t.get(key)
	if aerr != nil {
		return ReplicaFailed
	}
	if target != nil && target.ID != rp.ID {
		return ReplicaFailed
	}
	created := t.now
	if target != nil {
		created = target.CreateTime
	}
	n := *primary
	n.ID, n.Region, n.ProjectID, n.KmsKeyID = rp.ID, rp.Region, rp.ProjectID, rp.KmsKeyID
	n.CreateTime, n.UpdateTime = created, t.now
	n.ReplicaType = ReplicaReplica
	n.Replicas = []replicaRec{{ID: primary.ID, KmsKeyID: primary.KmsKeyID, ProjectID: primary.ProjectID,
		Region: primary.Region, ReplicaType: ReplicaPrimary, Status: ReplicaInSync, CreatedAt: rp.CreatedAt, UpdatedAt: t.now}}
	n.Tags = append([]tagRec(nil), primary.Tags...)
	n.EventSubscriptions = append([]string(nil), primary.EventSubscriptions...)
	n.StageTimes = map[string]int64{}
	for k, v := range primary.StageTimes {
		n.StageTimes[k] = v
	}
	n.LastUsedTime = 0
	if target != nil {
		n.LastUsedTime = target.LastUsedTime
	}
	n.Versions = nil
	for _, v := range primary.Versions {
		plain, aerr := t.s.open(primary, v)
		if aerr != nil {
			return ReplicaFailed
		}
		cipher, aerr := t.s.seal(&n, rp.KmsKeyID, v.ID, plain)
		if aerr != nil {
			return ReplicaFailed
		}
		nv := v
		nv.KmsKeyID, nv.Cipher = rp.KmsKeyID, cipher
		nv.Stages = append([]string(nil), v.Stages...)
		n.Versions = append(n.Versions, nv)
	}
	t.put(&n)
	return ReplicaInSync
}

// Encryption: one data key per (region, account, CMK); the AAD binds a ciphertext to
// its secret name and version so blobs cannot be swapped between versions.

func cmkScope(rec *secretRec, kms string) string {
	return rec.Region + "/" + rec.DomainID + "/" + kms
}

func valueAAD(name, versionID string) []byte { return []byte("csms-value/" + name + "/" + versionID) }

func (s *Server) seal(rec *secretRec, kms, versionID, value string) ([]byte, *apiError) {
	c, err := s.keyring.Encrypt(cmkScope(rec, kms), []byte(value), valueAAD(rec.Name, versionID))
	if err != nil {
		s.log.Error("Encrypt failed", "secret", rec.Name, "err", err)
		return nil, errInternal()
	}
	return c, nil
}

func (s *Server) open(rec *secretRec, v versionRec) (string, *apiError) {
	p, err := s.keyring.Decrypt(cmkScope(rec, v.KmsKeyID), v.Cipher, valueAAD(rec.Name, v.ID))
	if err != nil {
		s.log.Error("Decrypt failed", "secret", rec.Name, "version", v.ID, "err", err)
		return "", &apiError{500, "CSMS.0401", "KMS decryption of the secret value failed."}
	}
	return string(p), nil
}

// defaultKmsKeyID is the id shown for csms/default: stable per account and region.
func defaultKmsKeyID(domain, region string) string {
	sum := sha256.Sum256([]byte("csms/default/" + domain + "/" + region))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

const valueAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomValue() string {
	b := make([]byte, rotatedValueLen)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(valueAlphabet))))
		b[i] = valueAlphabet[n.Int64()]
	}
	return string(b)
}

// Background sweeper.

func (s *Server) rebuildDue() error {
	keys, err := s.store.allSecretKeys()
	if err != nil {
		return fmt.Errorf("scan store: %w", err)
	}
	for _, k := range keys {
		rec, err := s.store.getSecret(k)
		if err != nil {
			return fmt.Errorf("scan store: %w", err)
		}
		if rec != nil {
			if d := nextDue(rec); d > 0 {
				s.due[k] = d
			}
		}
	}
	return nil
}

func (s *Server) sweepLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.sweepOnce()
		}
	}
}

// sweepOnce settles every secret whose due time has come.
func (s *Server) sweepOnce() {
	now := s.nowMs()
	var keys []string
	s.dueMu.Lock()
	for k, d := range s.due {
		if d <= now {
			keys = append(keys, k)
		}
	}
	s.dueMu.Unlock()
	for _, k := range keys {
		select {
		case <-s.stop:
			return
		default:
		}
		_, aerr := s.update(func(t *txn) (any, *apiError) {
			_, aerr := t.get(k)
			return nil, aerr
		})
		if aerr != nil {
			s.log.Error("Background settle failed", "code", aerr.Code)
		}
	}
}
