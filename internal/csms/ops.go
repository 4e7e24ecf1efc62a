package csms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

// Operation names used in errors and metric labels.
const (
	opGetSecret        = "GetSecret"
	opCreateSecret     = "CreateSecret"
	opUpdateSecret     = "UpdateSecret"
	opDeleteSecret     = "DeleteSecret"
	opScheduleDeletion = "ScheduleDeletion"
	opRestoreSecret    = "RestoreSecret"
	opGetValue         = "GetCurrentValue"
	opGetStage         = "ShowSecretStage"
	opListVersions     = "ListSecretVersions"
	opPutValue         = "PutValue"
	opListTags         = "ListTags"
	opUpdateTags       = "UpdateTags"
	opCreateReplica    = "CreateReplica"
)

var (
	idempotent    = callOpts{idempotent: true}
	nonIdempotent = callOpts{idempotent: false}
)

// secretOp runs an operation whose response is {"secret":{…}}, decoded in full.
func (c *sdkClient) secretOp(ctx context.Context, op string, o callOpts, gen func() *def.HttpRequestDef, req any) (*Secret, error) {
	resp, err := c.call(ctx, op, o, func() (any, error) {
		d, env := withSecretResponse(gen)
		if _, err := c.api.HcClient.Sync(req, d); err != nil {
			return nil, err
		}
		return env, nil
	})
	if err != nil {
		return nil, err
	}
	env := resp.(*secretEnvelope)
	if env.Secret == nil {
		return nil, &APIError{Operation: op, StatusCode: env.HttpStatusCode, Message: "response has no secret", Kind: ErrTransient}
	}
	return env.Secret.toSecret(), nil
}

func (c *sdkClient) GetSecret(ctx context.Context, name string) (*Secret, error) {
	return c.secretOp(ctx, opGetSecret, idempotent, csmsv1.GenReqDefForShowSecret, &model.ShowSecretRequest{SecretName: name})
}

func (c *sdkClient) CreateSecret(ctx context.Context, in CreateSecretInput) (*Secret, error) {
	if in.Value.IsZero() {
		return nil, &APIError{Operation: opCreateSecret, Message: "a value is required", Kind: ErrInvalid}
	}
	if err := checkSize(opCreateSecret, in.Value); err != nil {
		return nil, err
	}
	body := &model.CreateSecretRequestBody{
		Name:                in.Name,
		KmsKeyId:            nonEmpty(in.KmsKeyID),
		Description:         nonEmpty(in.Description),
		RotationPeriod:      nonEmpty(in.RotationPeriod),
		RotationConfig:      nonEmpty(in.RotationConfig),
		EnterpriseProjectId: nonEmpty(in.EnterpriseProjectID),
		RotationFuncUrn:     nonEmpty(in.RotationFuncURN),
	}
	body.SecretString, body.SecretBinary = valueFields(in.Value)
	if in.AutoRotation {
		body.AutoRotation = ptr(true)
	}
	if len(in.EventSubscriptions) > 0 {
		body.EventSubscriptions = ptr(slices.Clone(in.EventSubscriptions))
	}
	if in.SecretType != "" {
		var t model.CreateSecretRequestBodySecretType
		// The SDK enum has no exported constructor for arbitrary values; UnmarshalJSON
		// accepts any string, so an unknown type reaches the service, which validates it.
		if err := t.UnmarshalJSON([]byte(fmt.Sprintf("%q", in.SecretType))); err != nil {
			return nil, &APIError{Operation: opCreateSecret, Message: "invalid secret type", Kind: ErrInvalid, Err: err}
		}
		body.SecretType = &t
	}

	s, err := c.secretOp(ctx, opCreateSecret, nonIdempotent, csmsv1.GenReqDefForCreateSecret, &model.CreateSecretRequest{Body: body})
	if err == nil {
		return s, nil
	}
	return nil, c.confirmExists(ctx, in.Name, err)
}

// confirmExists interprets a failed create: the "already exists" code is not documented,
// so a 4xx that is not plainly a validation of our input is checked with a read. Only
// when the secret is there does the error become ErrAlreadyExists.
func (c *sdkClient) confirmExists(ctx context.Context, name string, createErr error) error {
	var ae *APIError
	if !errors.As(createErr, &ae) || !errors.Is(ae.Kind, ErrInvalid) || isInputValidation(ae) {
		return createErr
	}
	if _, err := c.GetSecret(ctx, name); err != nil {
		// NotFound: the refusal was about something else. Any other read error: we
		// cannot tell, so report the create's own error.
		return createErr
	}
	exists := *ae
	exists.Kind = ErrAlreadyExists
	return &exists
}

func (c *sdkClient) UpdateSecret(ctx context.Context, name string, in UpdateSecretInput) (*Secret, error) {
	body := &model.UpdateSecretRequestBody{
		KmsKeyId:        in.KmsKeyID,
		Description:     in.Description,
		AutoRotation:    in.AutoRotation,
		RotationPeriod:  in.RotationPeriod,
		RotationFuncUrn: in.RotationFuncURN,
	}
	if in.EventSubscriptions != nil {
		// A non-nil empty slice is sent as [] to clear the subscriptions.
		subs := append([]string{}, (*in.EventSubscriptions)...)
		body.EventSubscriptions = &subs
	}
	// PUT of the same fields is idempotent.
	return c.secretOp(ctx, opUpdateSecret, idempotent, csmsv1.GenReqDefForUpdateSecret,
		&model.UpdateSecretRequest{SecretName: name, Body: body})
}

func (c *sdkClient) DeleteSecret(ctx context.Context, name string) error {
	_, err := c.call(ctx, opDeleteSecret, idempotent, func() (any, error) {
		return c.api.DeleteSecret(&model.DeleteSecretRequest{SecretName: name})
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (c *sdkClient) ScheduleDeletion(ctx context.Context, name string, recoveryWindowDays int32) (*Secret, error) {
	s, err := c.secretOp(ctx, opScheduleDeletion, idempotent, csmsv1.GenReqDefForDeleteSecretForSchedule,
		&model.DeleteSecretForScheduleRequest{
			SecretName: name,
			Body:       &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: recoveryWindowDays},
		})
	if errors.Is(err, ErrPendingDelete) {
		// Already scheduled (also what a retry after a lost response sees): the desired
		// state holds, so report the secret as it is.
		if cur, gerr := c.GetSecret(ctx, name); gerr == nil && cur.State == StatePendingDelete {
			return cur, nil
		}
	}
	return s, err
}

func (c *sdkClient) RestoreSecret(ctx context.Context, name string) (*Secret, error) {
	s, err := c.secretOp(ctx, opRestoreSecret, idempotent, csmsv1.GenReqDefForRestoreSecret,
		&model.RestoreSecretRequest{SecretName: name})
	if errors.Is(err, ErrInvalid) {
		// "Not in schedule-delete state" (CSMS.0108): nothing to cancel. Confirmed by a
		// read rather than by the code.
		if cur, gerr := c.GetSecret(ctx, name); gerr == nil && cur.State != StatePendingDelete {
			return cur, nil
		}
	}
	return s, err
}

// latestVersion is the version alias the API documents for the newest version.
const latestVersion = "latest"

func (c *sdkClient) GetCurrentValue(ctx context.Context, name string) (Value, string, error) {
	v, err := c.showVersion(ctx, name, latestVersion)
	if err != nil {
		return Value{}, "", err
	}
	// "latest" is the newest version, which is SYSCURRENT unless a stage was moved by
	// hand; then ask the stage which version is current.
	if md := v.VersionMetadata; md == nil || md.VersionStages == nil || !slices.Contains(*md.VersionStages, StageCurrent) {
		id, err := c.CurrentVersionID(ctx, name)
		if err != nil {
			return Value{}, "", err
		}
		if v, err = c.showVersion(ctx, name, id); err != nil {
			return Value{}, "", err
		}
	}
	val, err := valueOf(v)
	if err != nil {
		return Value{}, "", err
	}
	id := ""
	if v.VersionMetadata != nil {
		id = deref(v.VersionMetadata.Id)
	}
	return val, id, nil
}

func (c *sdkClient) showVersion(ctx context.Context, name, versionID string) (*model.Version, error) {
	resp, err := c.call(ctx, opGetValue, idempotent, func() (any, error) {
		return c.api.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: name, VersionId: versionID})
	})
	if err != nil {
		return nil, err
	}
	v := resp.(*model.ShowSecretVersionResponse).Version
	if v == nil {
		return nil, &APIError{Operation: opGetValue, Message: "response has no version", Kind: ErrTransient}
	}
	return v, nil
}

// valueOf extracts the value of a version. Decoding errors never quote the content.
func valueOf(v *model.Version) (Value, error) {
	switch {
	case v.SecretBinary != nil:
		b, err := base64.StdEncoding.DecodeString(*v.SecretBinary)
		if err != nil {
			return Value{}, &APIError{Operation: opGetValue, Message: "secret_binary is not valid base64", Kind: ErrTransient}
		}
		return BinaryValue(b), nil
	case v.SecretString != nil:
		return StringValue(*v.SecretString), nil
	default:
		return Value{}, &APIError{Operation: opGetValue, Message: "version has no value", Kind: ErrTransient}
	}
}

// valueFields returns the secret_string / secret_binary request fields for v.
func valueFields(v Value) (str, bin *string) {
	if b, ok := v.Binary(); ok {
		return nil, ptr(base64.StdEncoding.EncodeToString(b))
	}
	s, _ := v.Text()
	return &s, nil
}

// checkSize refuses a value larger than MaxValueBytes as sent (binary values count in
// their base64 form, like the service), saving a round trip that would fail anyway.
func checkSize(op string, v Value) error {
	n := v.Len()
	if v.IsBinary() {
		n = base64.StdEncoding.EncodedLen(n)
	}
	if n > MaxValueBytes {
		return &APIError{Operation: op, Message: fmt.Sprintf("value is %d bytes as sent, more than %d", n, MaxValueBytes), Kind: ErrInvalid}
	}
	return nil
}

func (c *sdkClient) PutValue(ctx context.Context, name string, v Value) (string, error) {
	if v.IsZero() {
		return "", &APIError{Operation: opPutValue, Message: "a value is required", Kind: ErrInvalid}
	}
	if err := checkSize(opPutValue, v); err != nil {
		return "", err
	}
	body := &model.CreateSecretVersionRequestBody{}
	body.SecretString, body.SecretBinary = valueFields(v)
	resp, err := c.call(ctx, opPutValue, nonIdempotent, func() (any, error) {
		return c.api.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: name, Body: body})
	})
	if err != nil {
		return "", c.confirmVersionLimit(ctx, name, err)
	}
	r := resp.(*model.CreateSecretVersionResponse)
	if r.VersionMetadata == nil || deref(r.VersionMetadata.Id) == "" {
		// The service answered 2xx, so the version was most likely created; an empty ID
		// would be recorded as the current version. Re-reading resolves it.
		return "", &APIError{Operation: opPutValue, StatusCode: r.HttpStatusCode,
			Message: "CreateSecretVersion response has no version id; the version may exist: re-read the secret", Kind: ErrTransient}
	}
	return *r.VersionMetadata.Id, nil
}

// confirmVersionLimit interprets a refused PutValue: no source names the version-limit
// error code (the emulator's CSMS.0002 is inferred, and shared with every invalid
// parameter), so a service refusal is checked with a read of the version list. Only when
// the secret holds MaxVersions or more does the error become ErrVersionLimit. Our own
// input checks (empty or oversized value) fail before the call and never reach here.
func (c *sdkClient) confirmVersionLimit(ctx context.Context, name string, putErr error) error {
	var ae *APIError
	if !errors.As(putErr, &ae) || !errors.Is(ae.Kind, ErrInvalid) || ae.StatusCode == 0 {
		return putErr
	}
	n, err := c.countVersions(ctx, name)
	if err != nil || n < MaxVersions {
		// Fewer versions: the refusal was about something else. A failed read: we cannot
		// tell, so report the write's own error.
		return putErr
	}
	limit := *ae
	limit.Kind = ErrVersionLimit
	return &limit
}

// versionPageSize is the page size of the version count: one page holds MaxVersions.
const versionPageSize = 50

// countVersions counts the secret's versions, paging with the marker, and stops as soon
// as MaxVersions are seen (the only question asked of it).
func (c *sdkClient) countVersions(ctx context.Context, name string) (int, error) {
	n := 0
	marker := ""
	for {
		req := &model.ListSecretVersionsRequest{SecretName: name, Limit: ptr(int32(versionPageSize))}
		if marker != "" {
			req.Marker = ptr(marker)
		}
		resp, err := c.call(ctx, opListVersions, idempotent, func() (any, error) {
			return c.api.ListSecretVersions(req)
		})
		if err != nil {
			return 0, err
		}
		r := resp.(*model.ListSecretVersionsResponse)
		if r.VersionMetadatas != nil {
			n += len(*r.VersionMetadatas)
		}
		next := ""
		if r.PageInfo != nil {
			next = deref(r.PageInfo.NextMarker)
		}
		// A marker that does not move would loop forever: treat it as the last page.
		if n >= MaxVersions || next == "" || next == marker {
			return n, nil
		}
		marker = next
	}
}

func (c *sdkClient) CurrentVersionID(ctx context.Context, name string) (string, error) {
	resp, err := c.call(ctx, opGetStage, idempotent, func() (any, error) {
		return c.api.ShowSecretStage(&model.ShowSecretStageRequest{SecretName: name, StageName: StageCurrent})
	})
	if err != nil {
		return "", err
	}
	st := resp.(*model.ShowSecretStageResponse).Stage
	if st == nil || deref(st.VersionId) == "" {
		return "", &APIError{Operation: opGetStage, Message: "SYSCURRENT stage has no version", Kind: ErrTransient}
	}
	return *st.VersionId, nil
}

func (c *sdkClient) ListTags(ctx context.Context, secretID string) (map[string]string, error) {
	resp, err := c.call(ctx, opListTags, idempotent, func() (any, error) {
		return c.api.ListSecretTags(&model.ListSecretTagsRequest{SecretId: secretID})
	})
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	if t := resp.(*model.ListSecretTagsResponse).Tags; t != nil {
		for _, item := range *t {
			tags[item.Key] = deref(item.Value)
		}
	}
	return tags, nil
}

// Batch tag actions of BatchCreateOrDeleteTags.
const (
	tagActionCreate = "create"
	tagActionDelete = "delete"
)

func (c *sdkClient) UpdateTags(ctx context.Context, secretID string, set map[string]string, remove []string) error {
	if len(remove) > 0 {
		items := make([]model.TagItem, 0, len(remove))
		for _, k := range slices.Sorted(slices.Values(remove)) {
			items = append(items, model.TagItem{Key: k})
		}
		if err := c.batchTags(ctx, secretID, tagActionDelete, items); err != nil {
			return err
		}
	}
	if len(set) > 0 {
		items := make([]model.TagItem, 0, len(set))
		for _, k := range sortedKeys(set) {
			items = append(items, model.TagItem{Key: k, Value: ptr(set[k])})
		}
		if err := c.batchTags(ctx, secretID, tagActionCreate, items); err != nil {
			return err
		}
	}
	return nil
}

func (c *sdkClient) batchTags(ctx context.Context, secretID, action string, items []model.TagItem) error {
	// Setting and removing the same tags twice leaves the same result: idempotent.
	_, err := c.call(ctx, opUpdateTags, idempotent, func() (any, error) {
		return c.api.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{
			SecretId: secretID,
			Body:     &model.BatchCreateOrDeleteTagsRequestBody{Tags: items, Action: action},
		})
	})
	return err
}

func (c *sdkClient) CreateReplica(ctx context.Context, name string, r ReplicaInput) (*Replica, error) {
	resp, err := c.call(ctx, opCreateReplica, nonIdempotent, func() (any, error) {
		d, env := newCreateReplicaDef()
		if _, err := c.api.HcClient.Sync(&createReplicaRequest{SecretName: name, Body: replicaBody(r)}, d); err != nil {
			return nil, err
		}
		return env, nil
	})
	if err != nil {
		return nil, c.confirmReplicaExists(ctx, name, r.Region, err)
	}
	env := resp.(*replicaEnvelope)
	if env.Replica == nil {
		// A 2xx without the object: the replica was most likely created, so this is not a
		// refusal, and it must not look like success either (the caller would use nil).
		return nil, &APIError{Operation: opCreateReplica, StatusCode: env.HttpStatusCode,
			Message: "CreateReplica response has no replica; the replica may exist: re-read the secret", Kind: ErrTransient}
	}
	rep := env.Replica.toReplica()
	return &rep, nil
}

// confirmReplicaExists interprets a failed CreateReplica like confirmExists does for
// CreateSecret: only a read that shows a replica in the region makes it ErrAlreadyExists.
func (c *sdkClient) confirmReplicaExists(ctx context.Context, name, region string, createErr error) error {
	var ae *APIError
	if !errors.As(createErr, &ae) || !errors.Is(ae.Kind, ErrInvalid) || isInputValidation(ae) {
		return createErr
	}
	s, err := c.GetSecret(ctx, name)
	if err != nil {
		return createErr
	}
	for _, rp := range s.Replicas {
		if rp.Region == region {
			exists := *ae
			exists.Kind = ErrAlreadyExists
			return &exists
		}
	}
	return createErr
}
