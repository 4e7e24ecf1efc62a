package emulator

import "sort"

type versionMetaResp struct {
	VersionMetadata versionMetaView `json:"version_metadata"`
}

type createVersionReq struct {
	SecretString  *string   `json:"secret_string"`
	SecretBinary  *string   `json:"secret_binary"`
	VersionStages *[]string `json:"version_stages"`
	ExpireTime    *int64    `json:"expire_time"`
}

func (s *Server) createVersion(c *reqCtx) (any, *apiError) {
	var req createVersionReq
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := validateValue(req.SecretString, req.SecretBinary); aerr != nil {
		return nil, aerr
	}
	var stages []string
	if req.VersionStages != nil {
		if aerr := validateStages(*req.VersionStages); aerr != nil {
			return nil, aerr
		}
		stages = append([]string{}, *req.VersionStages...)
		if !inferredExplicitStagesOnly && !contains(stages, stageCurrent) {
			stages = append(stages, stageCurrent)
		}
		// SYSPREVIOUS is managed by CSMS: it follows SYSCURRENT.
		if contains(stages, stagePrevious) {
			return nil, errInvalid("version_stages", "SYSPREVIOUS cannot be set directly")
		}
	}
	var expire int64
	if req.ExpireTime != nil {
		expire = *req.ExpireTime
	}
	return s.update(func(t *txn) (any, *apiError) {
		if expire != 0 && expire <= t.now {
			return nil, errInvalid("expire_time", "must be in the future")
		}
		rec, aerr := t.secretFor(c, primaryWritable)
		if aerr != nil {
			return nil, aerr
		}
		value, binary := valueOf(req.SecretString, req.SecretBinary)
		v, aerr := t.addVersion(rec, value, binary, stages, expire)
		if aerr != nil {
			return nil, aerr
		}
		t.put(rec)
		return versionMetaResp{rec.versionMeta(v)}, nil
	})
}

func (s *Server) listVersions(c *reqCtx) (any, *apiError) {
	limit, aerr := parseLimit(c.query.Get("limit"), defaultListLimit)
	if aerr != nil {
		return nil, aerr
	}
	marker := c.query.Get("marker")
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, metadataReadable)
		if aerr != nil {
			return nil, aerr
		}
		versions := append([]versionRec{}, rec.Versions...)
		sort.Slice(versions, func(i, j int) bool { return versionNumber(versions[i].ID) < versionNumber(versions[j].ID) })
		out := []versionMetaView{}
		more := false
		mk := versionNumber(marker)
		for i := range versions {
			if marker != "" && versionNumber(versions[i].ID) <= mk {
				continue
			}
			if len(out) == limit {
				more = true
				break
			}
			out = append(out, rec.versionMeta(&versions[i]))
		}
		return struct {
			VersionMetadatas []versionMetaView `json:"version_metadatas"`
			PageInfo         pageInfo          `json:"page_info"`
		}{out, page(marker, more, len(out), func() string { return out[len(out)-1].ID })}, nil
	})
}

type versionResp struct {
	Version struct {
		VersionMetadata versionMetaView `json:"version_metadata"`
		SecretString    *string         `json:"secret_string,omitempty"`
		SecretBinary    *string         `json:"secret_binary,omitempty"`
	} `json:"version"`
}

func (s *Server) showVersion(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, valueReadable)
		if aerr != nil {
			return nil, aerr
		}
		v, aerr := rec.version(c.params["version_id"])
		if aerr != nil {
			return nil, aerr
		}
		plain, aerr := s.open(rec, *v)
		if aerr != nil {
			return nil, aerr
		}
		var resp versionResp
		resp.Version.VersionMetadata = rec.versionMeta(v)
		if v.Binary {
			resp.Version.SecretBinary = &plain
		} else {
			resp.Version.SecretString = &plain
		}
		rec.LastUsedTime = t.now
		t.put(rec)
		return resp, nil
	})
}

func (s *Server) updateVersion(c *reqCtx) (any, *apiError) {
	var req struct {
		ExpireTime *int64 `json:"expire_time"`
	}
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.ExpireTime == nil {
		return nil, errInvalid("expire_time", "required")
	}
	return s.update(func(t *txn) (any, *apiError) {
		if *req.ExpireTime <= t.now {
			return nil, errInvalid("expire_time", "must be in the future")
		}
		rec, aerr := t.secretFor(c, writable)
		if aerr != nil {
			return nil, aerr
		}
		v, aerr := rec.version(c.params["version_id"])
		if aerr != nil {
			return nil, aerr
		}
		v.ExpireTime = *req.ExpireTime
		rec.UpdateTime = t.now
		t.put(rec)
		return versionMetaResp{rec.versionMeta(v)}, nil
	})
}

type stageView struct {
	Name       string `json:"name"`
	UpdateTime int64  `json:"update_time"`
	SecretName string `json:"secret_name"`
	VersionID  string `json:"version_id"`
}

type stageResp struct {
	Stage stageView `json:"stage"`
}

func (s *Server) showStage(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, metadataReadable)
		if aerr != nil {
			return nil, aerr
		}
		stage := c.params["stage_name"]
		v := rec.stageHolder(stage)
		if v == nil {
			return nil, errNotFound("secret stage")
		}
		return stageResp{stageView{stage, rec.StageTimes[stage], rec.Name, v.ID}}, nil
	})
}

func (s *Server) updateStage(c *reqCtx) (any, *apiError) {
	var req struct {
		VersionID *string `json:"version_id"`
	}
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.VersionID == nil || *req.VersionID == "" {
		return nil, errInvalid("version_id", "required")
	}
	stage := c.params["stage_name"]
	if aerr := validateStages([]string{stage}); aerr != nil {
		return nil, errInvalid("stage_name", "must be 1 to 64 characters")
	}
	if stage == stagePrevious {
		return nil, errInvalid("stage_name", "SYSPREVIOUS cannot be set directly")
	}
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, writable)
		if aerr != nil {
			return nil, aerr
		}
		v, aerr := rec.version(*req.VersionID)
		if aerr != nil {
			return nil, aerr
		}
		if len(v.Stages) >= maxVersionStages && !contains(v.Stages, stage) {
			return nil, errInvalid("version_stages", "a version holds at most 12 stages")
		}
		if stage == stageCurrent && inferredStageMoveSetsPrevious {
			t.moveCurrent(rec, v)
		} else {
			rec.setStage(stage, v, t.now)
		}
		rec.UpdateTime = t.now
		t.markReplicasOutOfSync(rec)
		t.put(rec)
		return stageResp{stageView{stage, rec.StageTimes[stage], rec.Name, v.ID}}, nil
	})
}

func (s *Server) deleteStage(c *reqCtx) (any, *apiError) {
	stage := c.params["stage_name"]
	if isSystemStage(stage) {
		return nil, errSystemStage()
	}
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretFor(c, writable)
		if aerr != nil {
			return nil, aerr
		}
		if rec.stageHolder(stage) == nil {
			return nil, errNotFound("secret stage")
		}
		rec.removeStage(stage)
		rec.UpdateTime = t.now
		t.put(rec)
		return nil, nil
	})
}
