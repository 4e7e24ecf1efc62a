package emulator

// listTasks serves ListSecretTask: rotation tasks filtered by secret_name, status and
// task_id, paged by task id (marker = last task id of the previous page).
func (s *Server) listTasks(c *reqCtx) (any, *apiError) {
	limit, aerr := parseLimit(c.query.Get("limit"), defaultListLimit)
	if aerr != nil {
		return nil, aerr
	}
	status := c.query.Get("status")
	if status != "" && status != "SUCCESS" && status != "FAILED" {
		return nil, errInvalid("status", "must be SUCCESS or FAILED")
	}
	name, taskID, marker := c.query.Get("secret_name"), c.query.Get("task_id"), c.query.Get("marker")
	all, err := s.store.listTasks(c.region, c.project)
	if err != nil {
		return nil, errInternal()
	}
	var matched []taskRec
	for _, task := range all {
		if (name == "" || task.SecretName == name) && (status == "" || task.TaskStatus == status) &&
			(taskID == "" || task.TaskID == taskID) {
			matched = append(matched, task)
		}
	}
	start := 0
	if marker != "" {
		for i, task := range matched {
			if task.TaskID == marker {
				start = i + 1
			}
		}
	}
	out := []taskRec{}
	var next *string
	for i := start; i < len(matched); i++ {
		if len(out) == limit {
			last := out[len(out)-1].TaskID
			next = &last
			break
		}
		out = append(out, matched[i])
	}
	return struct {
		Total      int       `json:"total"`
		Tasks      []taskRec `json:"tasks"`
		NextMarker *string   `json:"next_marker,omitempty"`
	}{len(matched), out, next}, nil
}
