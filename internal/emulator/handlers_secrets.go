package emulator

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"time"
)

type secretResp struct {
	Secret secretView `json:"secret"`
}

type pageInfo struct {
	NextMarker     *string `json:"next_marker,omitempty"`
	PreviousMarker *string `json:"previous_marker,omitempty"`
	CurrentCount   int     `json:"current_count"`
}

func (s *Server) createSecret(c *reqCtx) (any, *apiError) {
	req, err := DecodeCreate(c.body)
	if err != nil {
		return nil, err.(*apiError)
	}
	return s.createOne(c, req)
}

// batchImport creates each secret independently and reports per-name failures.
func (s *Server) batchImport(c *reqCtx) (any, *apiError) {
	var req struct {
		Secrets *[]json.RawMessage `json:"secrets"`
	}
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.Secrets == nil || len(*req.Secrets) == 0 || len(*req.Secrets) > maxBatchImport {
		return nil, errInvalid("secrets", "must have 1 to 100 entries")
	}
	type errInfo struct {
		Name     string `json:"name"`
		ErrorMsg string `json:"error_msg"`
	}
	errs := []errInfo{}
	for _, raw := range *req.Secrets {
		var name string
		var probe struct {
			Name *string `json:"name"`
		}
		if json.Unmarshal(raw, &probe) == nil && probe.Name != nil {
			name = *probe.Name
		}
		one, err := DecodeCreate(raw)
		if err == nil {
			_, aerr := s.createOne(c, one)
			if aerr != nil {
				err = aerr
			}
		}
		if err != nil {
			errs = append(errs, errInfo{name, err.(*apiError).Msg})
		}
	}
	n := len(*req.Secrets)
	return struct {
		Total     int       `json:"total"`
		Success   int       `json:"success"`
		Failed    int       `json:"failed"`
		ErrorList []errInfo `json:"error_list"`
	}{n, n - len(errs), len(errs), errs}, nil
}

func (s *Server) createOne(c *reqCtx, req *createReq) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		existing, aerr := t.get(c.key(*req.Name))
		if aerr != nil {
			return nil, aerr
		}
		if existing != nil && (inferredPendingBlocksCreate || existing.State != statePendingDelete) {
			return nil, errAlreadyExists()
		}
		n, err := s.store.countSecrets(c.region, c.project)
		if err != nil {
			return nil, errInternal()
		}
		if n >= MaxSecretsPerProject {
			return nil, errLimit("secret", MaxSecretsPerProject)
		}
		rec := newSecretRec(c, *req.Name, t.now)
		if req.KmsKeyID != nil && *req.KmsKeyID != "" {
			rec.KmsKeyID = *req.KmsKeyID
		}
		if req.Description != nil {
			rec.Description = *req.Description
		}
		if req.SecretType != nil {
			rec.SecretType = *req.SecretType
		}
		if req.RotationConfig != nil {
			rec.RotationConfig = *req.RotationConfig
		}
		if req.RotationPeriod != nil {
			rec.RotationPeriod = *req.RotationPeriod
		}
		if req.RotationFuncURN != nil {
			rec.RotationFuncURN = *req.RotationFuncURN
		}
		if req.EventSubscriptions != nil {
			if aerr := t.checkSubscriptions(c, *req.EventSubscriptions); aerr != nil {
				return nil, aerr
			}
			rec.EventSubscriptions = append([]string{}, *req.EventSubscriptions...)
		}
		if req.EnterpriseProjectID != nil && *req.EnterpriseProjectID != "" {
			rec.EnterpriseProjectID = *req.EnterpriseProjectID
		}
		if req.AutoRotation != nil && *req.AutoRotation {
			rec.AutoRotation = true
			rec.NextRotationTime = t.now + periodMs(rec.RotationPeriod)
		}
		value, binary := valueOf(req.SecretString, req.SecretBinary)
		if _, aerr := t.addVersion(rec, value, binary, nil, 0); aerr != nil {
			return nil, aerr
		}
		rec.UpdateTime = t.now
		t.put(rec)
		return secretResp{rec.view()}, nil
	})
}

func newSecretRec(c *reqCtx, name string, now int64) *secretRec {
	domain := c.cred.DomainID()
	return &secretRec{
		ID: newUUID(), Name: name, Region: c.region, ProjectID: c.project, DomainID: domain,
		State: stateEnabled, KmsKeyID: defaultKmsKeyID(domain, c.region), CreateTime: now, UpdateTime: now,
		SecretType: "COMMON", EventSubscriptions: []string{}, EnterpriseProjectID: defaultEnterpriseProjID,
		ReplicaType: ReplicaStandalone, Replicas: []replicaRec{}, StageTimes: map[string]int64{}, Tags: []tagRec{},
	}
}

func valueOf(str, bin *string) (string, bool) {
	if str != nil {
		return *str, false
	}
	return *bin, true
}

func (s *Server) showSecret(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, metadataReadable)
		if aerr != nil {
			return nil, aerr
		}
		return secretResp{rec.view()}, nil
	})
}

func (s *Server) listSecrets(c *reqCtx) (any, *apiError) {
	limit, aerr := parseLimit(c.query.Get("limit"), defaultListLimit)
	if aerr != nil {
		return nil, aerr
	}
	marker, eventName := c.query.Get("marker"), c.query.Get("event_name")
	recs, err := s.store.listSecrets(c.region, c.project)
	if err != nil {
		return nil, errInternal()
	}
	now := s.nowMs()
	var out []secretView
	var more bool
	for _, rec := range recs {
		if rec.purgedBy(now) {
			continue // purged by the next sweep; already gone for clients
		}
		if marker != "" && rec.Name <= marker {
			continue
		}
		if eventName != "" && !contains(rec.EventSubscriptions, eventName) {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		out = append(out, rec.view())
	}
	if out == nil {
		out = []secretView{}
	}
	return struct {
		Secrets  []secretView `json:"secrets"`
		PageInfo pageInfo     `json:"page_info"`
	}{out, page(marker, more, len(out), func() string { return out[len(out)-1].Name })}, nil
}

func page(marker string, more bool, n int, last func() string) pageInfo {
	p := pageInfo{CurrentCount: n}
	if marker != "" {
		p.PreviousMarker = &marker
	}
	if more && n > 0 {
		l := last()
		p.NextMarker = &l
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type updateReq struct {
	KmsKeyID           *string   `json:"kms_key_id"`
	Description        *string   `json:"description"`
	AutoRotation       *bool     `json:"auto_rotation"`
	RotationPeriod     *string   `json:"rotation_period"`
	EventSubscriptions *[]string `json:"event_subscriptions"`
	RotationFuncURN    *string   `json:"rotation_func_urn"`
}

func (s *Server) updateSecret(c *reqCtx) (any, *apiError) {
	var req updateReq
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := validateKeyAndDescription(req.KmsKeyID, req.Description); aerr != nil {
		return nil, aerr
	}
	if req.RotationPeriod != nil {
		if aerr := validatePeriod(*req.RotationPeriod); aerr != nil {
			return nil, aerr
		}
	}
	if req.EventSubscriptions != nil {
		if aerr := validateSubscriptions(*req.EventSubscriptions); aerr != nil {
			return nil, aerr
		}
	}
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, primaryWritable)
		if aerr != nil {
			return nil, aerr
		}
		period, urn, auto := rec.RotationPeriod, rec.RotationFuncURN, rec.AutoRotation
		if req.RotationPeriod != nil {
			period = *req.RotationPeriod
		}
		if req.RotationFuncURN != nil {
			urn = *req.RotationFuncURN
		}
		if req.AutoRotation != nil {
			auto = *req.AutoRotation
		}
		if auto && period == "" {
			return nil, errInvalid("rotation_period", "required when auto_rotation is true")
		}
		if auto && urn == "" {
			return nil, errInvalid("rotation_func_urn", "required when auto_rotation is true")
		}
		if req.EventSubscriptions != nil {
			if aerr := t.checkSubscriptions(c, *req.EventSubscriptions); aerr != nil {
				return nil, aerr
			}
		}
		if req.KmsKeyID != nil && *req.KmsKeyID != "" {
			rec.KmsKeyID = *req.KmsKeyID // applies to new versions only
		}
		if req.Description != nil {
			rec.Description = *req.Description
		}
		if req.EventSubscriptions != nil {
			rec.EventSubscriptions = append([]string{}, *req.EventSubscriptions...)
		}
		// The schedule restarts when rotation is turned on or its period changes.
		if auto && (!rec.AutoRotation || period != rec.RotationPeriod) {
			rec.NextRotationTime = t.now + periodMs(period)
		}
		if !auto {
			rec.NextRotationTime = 0
		}
		rec.AutoRotation, rec.RotationPeriod, rec.RotationFuncURN = auto, period, urn
		rec.UpdateTime = t.now
		t.markReplicasOutOfSync(rec)
		t.put(rec)
		return secretResp{rec.view()}, nil
	})
}

func (s *Server) deleteSecret(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secret(c)
		if aerr != nil {
			return nil, aerr
		}
		t.del(rec)
		return nil, nil
	})
}

func (s *Server) scheduleDelete(c *reqCtx) (any, *apiError) {
	var req struct {
		RecoveryWindowInDays *int `json:"recovery_window_in_days"`
	}
	days := defaultRecoveryDays
	if len(c.body) > 0 {
		if aerr := decodeBody(c.body, &req); aerr != nil {
			return nil, aerr
		}
		if req.RecoveryWindowInDays != nil {
			days = *req.RecoveryWindowInDays
		}
	}
	if days < minRecoveryDays || days > maxRecoveryDays {
		return nil, errInvalid("recovery_window_in_days", "must be from 7 to 30")
	}
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, writable)
		if aerr != nil {
			return nil, aerr
		}
		rec.State = statePendingDelete
		rec.ScheduledDeleteTime = t.now + int64(days)*int64(24*time.Hour/time.Millisecond)
		rec.UpdateTime = t.now
		t.put(rec)
		return secretResp{rec.view()}, nil
	})
}

func (s *Server) cancelDelete(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secret(c)
		if aerr != nil {
			return nil, aerr
		}
		if rec.State != statePendingDelete {
			return nil, errNotPending()
		}
		rec.State = stateEnabled
		rec.ScheduledDeleteTime = 0
		rec.UpdateTime = t.now
		if rec.AutoRotation && rec.NextRotationTime <= t.now {
			rec.NextRotationTime = t.now + periodMs(rec.RotationPeriod)
		}
		t.put(rec)
		return secretResp{rec.view()}, nil
	})
}

func (s *Server) rotateSecret(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, primaryWritable)
		if aerr != nil {
			return nil, aerr
		}
		if aerr := t.rotate(rec, false); aerr != nil {
			return nil, aerr
		}
		t.put(rec)
		return struct {
			VersionID      string `json:"version_id"`
			SecretName     string `json:"secret_name"`
			RotationTaskID string `json:"rotation_task_id"`
		}{rec.Versions[len(rec.Versions)-1].ID, rec.Name, t.tasks[len(t.tasks)-1].TaskID}, nil
	})
}

// Backup blobs: the record (values still encrypted under their data keys) sealed with
// a per-account-and-region blob key, so a blob restores only in the same account and
// region.

func blobScope(region, domain string) string { return "blob/" + region + "/" + domain }

func (s *Server) downloadBlob(c *reqCtx) (any, *apiError) {
	res, aerr := s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secret(c)
		if aerr != nil {
			return nil, aerr
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return nil, errInternal()
		}
		sealed, err := s.keyring.Encrypt(blobScope(c.region, rec.DomainID), raw, []byte(blobScope(c.region, rec.DomainID)))
		if err != nil {
			return nil, errInternal()
		}
		return base64.StdEncoding.EncodeToString(sealed), nil
	})
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		SecretBlob string `json:"secret_blob"`
	}{res.(string)}, nil
}

func (s *Server) uploadBlob(c *reqCtx) (any, *apiError) {
	var req struct {
		SecretBlob *string `json:"secret_blob"`
	}
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.SecretBlob == nil || *req.SecretBlob == "" {
		return nil, errInvalid("secret_blob", "required")
	}
	sealed, err := base64.StdEncoding.DecodeString(*req.SecretBlob)
	if err != nil {
		return nil, errInvalid("secret_blob", "not a secret backup")
	}
	domain := c.cred.DomainID()
	raw, err := s.keyring.Decrypt(blobScope(c.region, domain), sealed, []byte(blobScope(c.region, domain)))
	if err != nil {
		return nil, errInvalid("secret_blob", "not a backup of this account and region")
	}
	var rec secretRec
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, errInvalid("secret_blob", "not a secret backup")
	}
	return s.update(func(t *txn) (any, *apiError) {
		existing, aerr := t.get(c.key(rec.Name))
		if aerr != nil {
			return nil, aerr
		}
		if existing != nil {
			return nil, errAlreadyExists()
		}
		if key, _ := s.store.keyForID(rec.ID); key != "" {
			rec.ID = newUUID()
		}
		rec.ProjectID = c.project
		rec.UpdateTime = t.now
		// A restored secret stands alone: its replicas belonged to the original.
		rec.ReplicaType, rec.Replicas = ReplicaStandalone, []replicaRec{}
		t.put(&rec)
		return secretResp{rec.view()}, nil
	})
}

// Replicas (absent from the SDK; body field names in inferred.go).

func (s *Server) createReplica(c *reqCtx) (any, *apiError) {
	var req map[string]any
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	str := func(k string) (string, *apiError) {
		v, ok := req[k]
		if !ok || v == nil {
			return "", nil
		}
		sv, ok := v.(string)
		if !ok {
			return "", errInvalid(k, "wrong type")
		}
		return sv, nil
	}
	region, aerr := str(replicaFieldRegion)
	if aerr != nil {
		return nil, aerr
	}
	project, aerr := str(replicaFieldProjectID)
	if aerr != nil {
		return nil, aerr
	}
	kms, aerr := str(replicaFieldKmsKeyID)
	if aerr != nil {
		return nil, aerr
	}
	if region == "" || len(region) > 64 {
		return nil, errInvalid(replicaFieldRegion, "required")
	}
	if region == c.region {
		return nil, errInvalid(replicaFieldRegion, "must differ from the primary region")
	}
	if len(project) != 32 || !projectIDRe.MatchString(project) {
		return nil, errInvalid(replicaFieldProjectID, "must be a 32-character project ID")
	}
	if kms != "" && !kmsIDRe.MatchString(kms) {
		return nil, errInvalid(replicaFieldKmsKeyID, "must match ^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")
	}
	res, aerr := s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, primaryWritable)
		if aerr != nil {
			return nil, aerr
		}
		for _, rp := range rec.Replicas {
			if rp.Region == region {
				return nil, errReplicaExists()
			}
		}
		if kms == "" {
			kms = defaultKmsKeyID(rec.DomainID, region)
		}
		rp := replicaRec{ID: newUUID(), KmsKeyID: kms, ProjectID: project, Region: region,
			ReplicaType: ReplicaReplica, Status: ReplicaInProgress, CreatedAt: t.now, UpdatedAt: t.now,
			SyncDue: t.now + s.cfg.ReplicationDelay.Milliseconds()}
		rec.Replicas = append(rec.Replicas, rp)
		sort.SliceStable(rec.Replicas, func(i, j int) bool { return rec.Replicas[i].Region < rec.Replicas[j].Region })
		rec.ReplicaType = ReplicaPrimary
		rec.UpdateTime = t.now
		t.put(rec)
		return replicaView{rp.ID, rp.KmsKeyID, rp.ProjectID, rp.Region, rp.ReplicaType, rp.Status, rp.CreatedAt, rp.UpdatedAt}, nil
	})
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Replica replicaView `json:"replica"`
	}{res.(replicaView)}, nil
}
