package emulator

type eventReq struct {
	Name         *string       `json:"name"`
	EventTypes   *[]string     `json:"event_types"`
	State        *string       `json:"state"`
	Notification *notification `json:"notification"`
}

type eventResp struct {
	Event *eventRec `json:"event"`
}

func validateEventFields(req *eventReq, create bool) *apiError {
	if create {
		if req.Name == nil || !nameRe.MatchString(*req.Name) {
			return errInvalid("name", "must match ^[a-zA-Z0-9_-]{1,64}$")
		}
		if req.EventTypes == nil {
			return errInvalid("event_types", "required")
		}
		if req.State == nil {
			return errInvalid("state", "required")
		}
		if req.Notification == nil {
			return errInvalid("notification", "required")
		}
	}
	if req.EventTypes != nil {
		types := *req.EventTypes
		if len(types) < 1 || len(types) > maxEventTypes {
			return errInvalid("event_types", "must have 1 to 12 entries")
		}
		seen := map[string]bool{}
		for _, t := range types {
			if !validEventTypes[t] {
				return errInvalid("event_types", "unknown event type "+t)
			}
			if seen[t] {
				return errInvalid("event_types", "duplicate event type "+t)
			}
			seen[t] = true
		}
	}
	if req.State != nil && *req.State != "ENABLED" && *req.State != "DISABLED" {
		return errInvalid("state", "must be ENABLED or DISABLED")
	}
	if n := req.Notification; n != nil && (n.TargetType == "" || n.TargetID == "" || n.TargetName == "") {
		return errInvalid("notification", "target_type, target_id and target_name are required")
	}
	return nil
}

func (s *Server) createEvent(c *reqCtx) (any, *apiError) {
	var req eventReq
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := validateEventFields(&req, true); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := c.key(*req.Name)
	existing, err := s.store.getEvent(key)
	if err != nil {
		return nil, errInternal()
	}
	if existing != nil {
		return nil, errEventExists()
	}
	now := s.nowMs()
	ev := &eventRec{Name: *req.Name, EventID: newUUID(), EventTypes: *req.EventTypes, State: *req.State,
		CreateTime: now, UpdateTime: now, Notification: *req.Notification}
	if err := s.store.putEvent(key, ev); err != nil {
		return nil, errInternal()
	}
	return eventResp{ev}, nil
}

func (s *Server) getEvent(c *reqCtx) (*eventRec, *apiError) {
	ev, err := s.store.getEvent(c.key(c.params["event_name"]))
	if err != nil {
		return nil, errInternal()
	}
	if ev == nil {
		return nil, errNotFound("event")
	}
	return ev, nil
}

func (s *Server) showEvent(c *reqCtx) (any, *apiError) {
	ev, aerr := s.getEvent(c)
	if aerr != nil {
		return nil, aerr
	}
	return eventResp{ev}, nil
}

func (s *Server) updateEvent(c *reqCtx) (any, *apiError) {
	var req eventReq
	if aerr := decodeBody(c.body, &req); aerr != nil {
		return nil, aerr
	}
	req.Name = nil
	if aerr := validateEventFields(&req, false); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, aerr := s.getEvent(c)
	if aerr != nil {
		return nil, aerr
	}
	if req.EventTypes != nil {
		ev.EventTypes = *req.EventTypes
	}
	if req.State != nil {
		ev.State = *req.State
	}
	if req.Notification != nil {
		ev.Notification = *req.Notification
	}
	ev.UpdateTime = s.nowMs()
	if err := s.store.putEvent(c.key(ev.Name), ev); err != nil {
		return nil, errInternal()
	}
	return eventResp{ev}, nil
}

func (s *Server) deleteEvent(c *reqCtx) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, aerr := s.getEvent(c)
	if aerr != nil {
		return nil, aerr
	}
	recs, err := s.store.listSecrets(c.region, c.project)
	if err != nil {
		return nil, errInternal()
	}
	for _, rec := range recs {
		if contains(rec.EventSubscriptions, ev.Name) {
			return nil, errEventInUse()
		}
	}
	if err := s.store.deleteEvent(c.key(ev.Name)); err != nil {
		return nil, errInternal()
	}
	return nil, nil
}

func (s *Server) listEvents(c *reqCtx) (any, *apiError) {
	limit, aerr := parseLimit(c.query.Get("limit"), defaultListLimit)
	if aerr != nil {
		return nil, aerr
	}
	marker := c.query.Get("marker")
	evs, err := s.store.listEvents(c.region, c.project)
	if err != nil {
		return nil, errInternal()
	}
	out := []*eventRec{}
	more := false
	for _, ev := range evs {
		if marker != "" && ev.Name <= marker {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		out = append(out, ev)
	}
	return struct {
		Events   []*eventRec `json:"events"`
		PageInfo pageInfo    `json:"page_info"`
	}{out, page(marker, more, len(out), func() string { return out[len(out)-1].Name })}, nil
}
