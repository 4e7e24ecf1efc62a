package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/csms-operator/csms-operator/internal/emulator/sigv"
)

// reqCtx is what a handler sees: the authenticated scope and the raw body.
type reqCtx struct {
	r       *http.Request
	body    []byte
	region  string
	project string
	cred    *Credential
	params  map[string]string
	query   url.Values
}

func (c *reqCtx) key(name string) string { return scopeKey(c.region, c.project, name) }

type handlerFunc func(s *Server, c *reqCtx) (any, *apiError)

type route struct {
	method string
	segs   []string // after /v1/{project_id}; "{x}" is a parameter
	op     string
	h      handlerFunc
}

// routes lists literal paths before parameterised ones that could match the same URL.
var routes = []route{
	{"POST", sp("secrets/restore"), "UploadSecretBlob", (*Server).uploadBlob},
	{"POST", sp("secrets/batch-import"), "BatchImportSecrets", (*Server).batchImport},
	{"POST", sp("secrets"), "CreateSecret", (*Server).createSecret},
	{"GET", sp("secrets"), "ListSecrets", (*Server).listSecrets},
	{"GET", sp("secrets/{secret_name}"), "ShowSecret", (*Server).showSecret},
	{"PUT", sp("secrets/{secret_name}"), "UpdateSecret", (*Server).updateSecret},
	{"DELETE", sp("secrets/{secret_name}"), "DeleteSecret", (*Server).deleteSecret},
	{"POST", sp("secrets/{secret_name}/scheduled-deleted-tasks/create"), "DeleteSecretForSchedule", (*Server).scheduleDelete},
	{"POST", sp("secrets/{secret_name}/scheduled-deleted-tasks/cancel"), "RestoreSecret", (*Server).cancelDelete},
	{"POST", sp("secrets/{secret_name}/rotate"), "RotateSecret", (*Server).rotateSecret},
	{"POST", sp("secrets/{secret_name}/backup"), "DownloadSecretBlob", (*Server).downloadBlob},
	{"POST", sp("secrets/{secret_name}/replicas"), "CreateSecretReplica", (*Server).createReplica},
	{"POST", sp("secrets/{secret_name}/versions"), "CreateSecretVersion", (*Server).createVersion},
	{"GET", sp("secrets/{secret_name}/versions"), "ListSecretVersions", (*Server).listVersions},
	{"GET", sp("secrets/{secret_name}/versions/{version_id}"), "ShowSecretVersion", (*Server).showVersion},
	{"PUT", sp("secrets/{secret_name}/versions/{version_id}"), "UpdateVersion", (*Server).updateVersion},
	{"GET", sp("secrets/{secret_name}/stages/{stage_name}"), "ShowSecretStage", (*Server).showStage},
	{"PUT", sp("secrets/{secret_name}/stages/{stage_name}"), "UpdateSecretStage", (*Server).updateStage},
	{"DELETE", sp("secrets/{secret_name}/stages/{stage_name}"), "DeleteSecretStage", (*Server).deleteStage},
	{"GET", sp("csms/tags"), "ListProjectSecretsTags", (*Server).listProjectTags},
	{"POST", sp("csms/resource_instances/action"), "ListResourceInstances", (*Server).listResourceInstances},
	{"GET", sp("csms/tasks"), "ListSecretTask", (*Server).listTasks},
	{"POST", sp("csms/events"), "CreateSecretEvent", (*Server).createEvent},
	{"GET", sp("csms/events"), "ListSecretEvents", (*Server).listEvents},
	{"GET", sp("csms/events/{event_name}"), "ShowSecretEvent", (*Server).showEvent},
	{"PUT", sp("csms/events/{event_name}"), "UpdateSecretEvent", (*Server).updateEvent},
	{"DELETE", sp("csms/events/{event_name}"), "DeleteSecretEvent", (*Server).deleteEvent},
	{"POST", sp("csms/{secret_id}/tags"), "CreateSecretTag", (*Server).createTag},
	{"GET", sp("csms/{secret_id}/tags"), "ListSecretTags", (*Server).listTags},
	{"POST", sp("csms/{secret_id}/tags/action"), "BatchCreateOrDeleteTags", (*Server).batchTags},
	{"DELETE", sp("csms/{secret_id}/tags/{key}"), "DeleteSecretTag", (*Server).deleteTag},
}

func sp(p string) []string { return strings.Split(p, "/") }

// match finds the route for a path; rest are the escaped segments after /v1/{project}.
func match(method string, rest []string) (*route, map[string]string, bool) {
	pathFound := false
	for i := range routes {
		rt := &routes[i]
		if len(rt.segs) != len(rest) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") {
				v, err := url.PathUnescape(rest[j])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[strings.Trim(seg, "{}")] = v
			} else if seg != rest[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathFound = true
		if rt.method == method {
			return rt, params, true
		}
	}
	return nil, nil, pathFound
}

// apiHandler serves one region.
func (s *Server) apiHandler(region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := newRequestID()
		w.Header().Set("X-Request-Id", reqID)
		w.Header().Set("Content-Type", "application/json")
		op, status, code, project := s.handleSafely(w, r, region)
		s.stats.add(op, status)
		// Never log bodies: they carry values.
		s.log.Info("Request", "op", op, "method", r.Method, "path", r.URL.Path, "status", status,
			"errorCode", code, "project", project, "region", region, "requestId", reqID,
			"duration", time.Since(start).String())
	})
}

// handleSafely turns a handler panic into a 500 so one bad request cannot kill the
// connection silently; the panic value is logged, never the body.
func (s *Server) handleSafely(w http.ResponseWriter, r *http.Request, region string) (op string, status int, code, project string) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("Handler panic", "path", r.URL.Path, "panic", fmt.Sprint(p))
			e := errInternal()
			writeError(w, e)
			op, status, code = "Unknown", e.Status, e.Code
		}
	}()
	return s.handle(w, r, region)
}

// handle runs one request and returns the operation, status and error code for stats
// and the log line.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, region string) (op string, status int, code, project string) {
	op = "Unknown"
	fail := func(e *apiError) (string, int, string, string) {
		writeError(w, e)
		return op, e.Status, e.Code, project
	}
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(segs) < 3 || segs[0] != "v1" {
		return fail(errNoRoute())
	}
	project = segs[1]
	rt, params, pathFound := match(r.Method, segs[2:])
	if rt == nil {
		if pathFound {
			return fail(&apiError{http.StatusMethodNotAllowed, "APIGW.0101", "The method is not allowed for the API."})
		}
		return fail(errNoRoute())
	}
	op = rt.op

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fail(errTooLarge())
		}
		return fail(errBadBody("cannot read the body"))
	}

	// The skew check uses real time: a client signs with its own clock, which the
	// emulator's test clock offset must not break.
	ak, err := sigv.Verify(r, body, s.lookupAK, time.Now(), MaxSkewMinutes*time.Minute)
	if err != nil {
		return fail(errAuth(err.Error()))
	}
	cred := s.creds[ak]
	if pid, ok := cred.Projects[region]; !ok || pid != project {
		return fail(errForbidden())
	}
	if s.cfg.QPS > 0 && !s.limiter(project).Allow() {
		return fail(errThrottled(s.cfg.QPS))
	}

	f := s.faults.pick(op)
	if f != nil && f.latency > 0 {
		select {
		case <-time.After(f.latency):
		case <-r.Context().Done():
		}
	}
	if f != nil && !f.After && f.active() {
		return s.applyFault(w, f, op, project)
	}

	c := &reqCtx{r: r, body: body, region: region, project: project, cred: cred, params: params, query: r.URL.Query()}
	resp, aerr := rt.h(s, c)

	if f != nil && f.After && f.active() {
		return s.applyFault(w, f, op, project)
	}
	if aerr != nil {
		return fail(aerr)
	}
	w.WriteHeader(http.StatusOK)
	if resp != nil {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(resp)
	}
	return op, http.StatusOK, "", project
}

func (s *Server) applyFault(w http.ResponseWriter, f *fault, op, project string) (string, int, string, string) {
	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				// The fault is a dropped connection: a Close error changes nothing for the
				// client, which sees the connection end either way.
				_ = conn.Close()
				return op, 0, "dropped", project
			}
		}
	}
	e := &apiError{Status: f.Status, Code: f.ErrorCode, Msg: f.ErrorMsg}
	if e.Status == 0 {
		e.Status = http.StatusInternalServerError
	}
	writeError(w, e)
	return op, e.Status, e.Code, project
}

func (s *Server) lookupAK(ak string) (string, string, bool) {
	c, ok := s.creds[ak]
	if !ok {
		return "", "", false
	}
	return c.SK, c.SecurityToken, true
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.WriteHeader(e.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error_code": e.Code, "error_msg": e.Msg})
}
