package emulator

import (
	"sort"
	"strings"
)

type tagItemReq struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

func (s *Server) createTag(c *reqCtx) (any, *apiError) {
	var req struct {
		Tag *tagItemReq `json:"tag"`
	}
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.Tag == nil || req.Tag.Key == nil {
		return nil, errInvalid("tag", "required")
	}
	return s.changeTags(c, "create", []tagItemReq{*req.Tag})
}

func (s *Server) batchTags(c *reqCtx) (any, *apiError) {
	var req struct {
		Tags   *[]tagItemReq `json:"tags"`
		Action *string       `json:"action"`
	}
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.Action == nil || (*req.Action != "create" && *req.Action != "delete") {
		return nil, errInvalid("action", "must be create or delete")
	}
	if req.Tags == nil || len(*req.Tags) == 0 {
		return nil, errInvalid("tags", "required")
	}
	return s.changeTags(c, *req.Action, *req.Tags)
}

func (s *Server) deleteTag(c *reqCtx) (any, *apiError) {
	key := c.params["key"]
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretByIDFor(c, writable)
		if aerr != nil {
			return nil, aerr
		}
		if _, ok := rec.tagValue(key); !ok {
			return nil, errNotFound("tag")
		}
		rec.Tags = removeTag(rec.Tags, key)
		t.put(rec)
		return nil, nil
	})
}

// changeTags applies create (upsert) or delete atomically: any invalid item fails all.
func (s *Server) changeTags(c *reqCtx, action string, items []tagItemReq) (any, *apiError) {
	for _, it := range items {
		if it.Key == nil {
			return nil, errInvalid("tags.key", "required")
		}
		if aerr := validateTag(*it.Key, it.Value); aerr != nil {
			return nil, aerr
		}
	}
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretByIDFor(c, writable)
		if aerr != nil {
			return nil, aerr
		}
		tags := append([]tagRec{}, rec.Tags...)
		for _, it := range items {
			if action == "delete" {
				tags = removeTag(tags, *it.Key)
				continue
			}
			val := ""
			if it.Value != nil {
				val = *it.Value
			}
			replaced := false
			for i := range tags {
				if tags[i].Key == *it.Key {
					tags[i].Value, replaced = val, true
				}
			}
			if !replaced {
				tags = append(tags, tagRec{*it.Key, val})
			}
		}
		if len(tags) > MaxTagsPerSecret {
			return nil, errLimit("tag", MaxTagsPerSecret)
		}
		rec.Tags = tags
		t.put(rec)
		return nil, nil
	})
}

func removeTag(tags []tagRec, key string) []tagRec {
	out := tags[:0:0]
	for _, t := range tags {
		if t.Key != key {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) listTags(c *reqCtx) (any, *apiError) {
	return s.update(func(t *txn) (any, *apiError) {
		rec, aerr := t.secretByIDFor(c, metadataReadable)
		if aerr != nil {
			return nil, aerr
		}
		return struct {
			Tags    []tagView `json:"tags"`
			SysTags []tagView `json:"sys_tags"`
		}{rec.tagViews(), []tagView{}}, nil
	})
}

func (s *Server) listProjectTags(c *reqCtx) (any, *apiError) {
	recs, err := s.store.listSecrets(c.region, c.project)
	if err != nil {
		return nil, errInternal()
	}
	values := map[string]map[string]bool{}
	for _, rec := range recs {
		for _, tg := range rec.Tags {
			if values[tg.Key] == nil {
				values[tg.Key] = map[string]bool{}
			}
			values[tg.Key][tg.Value] = true
		}
	}
	type kv struct {
		Key    string   `json:"key"`
		Values []string `json:"values"`
	}
	out := []kv{}
	for k, vs := range values {
		list := []string{}
		for v := range vs {
			list = append(list, v)
		}
		out = append(out, kv{k, sortStrings(list)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return struct {
		Tags []kv `json:"tags"`
	}{out}, nil
}

type resourceReq struct {
	Action *string       `json:"action"`
	Limit  *numericField `json:"limit"`
	Offset *numericField `json:"offset"`
	Tags   *[]struct {
		Key    *string  `json:"key"`
		Values []string `json:"values"`
	} `json:"tags"`
	Matches *[]struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	} `json:"matches"`
}

// listResourceInstances filters the project's secrets by tags (every given key must be
// present; a non-empty values list must contain the value) and resource_name (substring).
func (s *Server) listResourceInstances(c *reqCtx) (any, *apiError) {
	var req resourceReq
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if req.Action == nil || (*req.Action != "filter" && *req.Action != "count") {
		return nil, errInvalid("action", "must be filter or count")
	}
	limit, offset := defaultInstancesLimit, 0
	if req.Limit != nil {
		n, err := req.Limit.int()
		if err != nil || n < 1 || n > maxListLimit {
			return nil, errInvalid("limit", "must be an integer from 1 to 1000")
		}
		limit = n
	}
	if req.Offset != nil {
		n, err := req.Offset.int()
		if err != nil || n < 0 {
			return nil, errInvalid("offset", "must be a non-negative integer")
		}
		offset = n
	}
	if req.Tags != nil {
		for _, tg := range *req.Tags {
			if tg.Key == nil || *tg.Key == "" {
				return nil, errInvalid("tags.key", "required")
			}
		}
	}
	if req.Matches != nil {
		for _, m := range *req.Matches {
			if m.Key == nil || *m.Key != "resource_name" || m.Value == nil {
				return nil, errInvalid("matches", "key must be resource_name with a value")
			}
		}
	}
	recs, err := s.store.listSecrets(c.region, c.project)
	if err != nil {
		return nil, errInternal()
	}
	now := s.nowMs()
	var hits []*secretRec
	for _, rec := range recs {
		if rec.purgedBy(now) {
			continue
		}
		if matchesResource(rec, &req) {
			hits = append(hits, rec)
		}
	}
	if *req.Action == "count" {
		return struct {
			TotalCount int `json:"total_count"`
		}{len(hits)}, nil
	}
	type resource struct {
		ResourceID     string     `json:"resource_id"`
		ResourceName   string     `json:"resource_name"`
		ResourceDetail secretView `json:"resource_detail"`
		Tags           []tagView  `json:"tags"`
		SysTags        []tagView  `json:"sys_tags"`
	}
	out := []resource{}
	for i := offset; i < len(hits) && len(out) < limit; i++ {
		r := hits[i]
		out = append(out, resource{r.ID, r.Name, r.view(), r.tagViews(), []tagView{}})
	}
	return struct {
		Resources  []resource `json:"resources"`
		TotalCount int        `json:"total_count"`
	}{out, len(hits)}, nil
}

func matchesResource(rec *secretRec, req *resourceReq) bool {
	if req.Tags != nil {
		for _, tg := range *req.Tags {
			v, ok := rec.tagValue(*tg.Key)
			if !ok || (len(tg.Values) > 0 && !contains(tg.Values, v)) {
				return false
			}
		}
	}
	if req.Matches != nil {
		for _, m := range *req.Matches {
			if !strings.Contains(rec.Name, *m.Value) {
				return false
			}
		}
	}
	return true
}
