package emulator_test

import (
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

func TestScheduledDeletionAndPurge(t *testing.T) {
	env, c := startEnv(t)
	createSecret(t, c, "sd", "v")
	_, err := c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "sd", Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 6}})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "sd", Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 31}})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.RestoreSecret(&model.RestoreSecretRequest{SecretName: "sd"})
	wantErr(t, err, 400, "CSMS.0108")

	before := time.Now().UnixMilli()
	resp, err := c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "sd", Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 7}})
	mustOK(t, err)
	sched := *resp.Secret.ScheduledDeleteTime
	if *resp.Secret.State != "PENDING_DELETE" || sched < before+7*24*3600*1000 || sched > time.Now().UnixMilli()+7*24*3600*1000 {
		t.Fatalf("pending secret %+v", resp.Secret)
	}
	// While pending: metadata readable (inferredPendingMetadataReadable), values and
	// writes refused.
	pending, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "sd"})
	mustOK(t, err)
	_, err = c.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: "sd"})
	mustOK(t, err)
	_, err = c.ShowSecretStage(&model.ShowSecretStageRequest{SecretName: "sd", StageName: "SYSCURRENT"})
	mustOK(t, err)
	_, err = c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *pending.Secret.Id})
	mustOK(t, err)
	_, err = c.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: "sd", VersionId: "latest"})
	wantErr(t, err, 400, "CSMS.0103")
	_, err = c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "sd", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("x")}})
	wantErr(t, err, 400, "CSMS.0107")
	_, err = c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "sd", Body: &model.UpdateSecretRequestBody{Description: ptr("x")}})
	wantErr(t, err, 400, "CSMS.0107")
	_, err = c.RotateSecret(&model.RotateSecretRequest{SecretName: "sd"})
	wantErr(t, err, 400, "CSMS.0107")
	sec, _ := c.ShowSecret(&model.ShowSecretRequest{SecretName: "sd"})
	_, err = c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *sec.Secret.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "create", Tags: []model.TagItem{{Key: "k", Value: ptr("v")}}}})
	wantErr(t, err, 400, "CSMS.0107")
	_, err = c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "sd", Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 7}})
	wantErr(t, err, 400, "CSMS.0107")
	// The pending name blocks re-creation.
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "sd", SecretString: ptr("v")}})
	wantErr(t, err, 400, "CSMS.0104")

	// Cancel returns it to ENABLED with its value.
	rs, err := c.RestoreSecret(&model.RestoreSecretRequest{SecretName: "sd"})
	mustOK(t, err)
	if *rs.Secret.State != "ENABLED" || rs.Secret.ScheduledDeleteTime != nil {
		t.Fatalf("restored %+v", rs.Secret)
	}
	if got := *showValue(t, c, "sd", "latest").SecretString; got != "v" {
		t.Fatalf("value after restore %q", got)
	}

	// Schedule again and pass the window with the admin clock: purged.
	_, err = c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "sd", Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 7}})
	mustOK(t, err)
	env.Server.SetClockOffset(6 * 24 * time.Hour)
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "sd"})
	mustOK(t, err)
	env.Server.SetClockOffset(7*24*time.Hour + time.Minute)
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "sd"})
	wantErr(t, err, 404, "CSMS.0106")
	createSecret(t, c, "sd", "again")
}

func TestAutomaticRotation(t *testing.T) {
	env, c := startEnv(t)
	_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "auto", SecretString: ptr("v1value"),
		AutoRotation: ptr(true), RotationPeriod: ptr("1d"), RotationFuncUrn: ptr("urn:fss:cn-north-4:p:function:default:rot:latest")}})
	mustOK(t, err)
	s, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "auto"})
	mustOK(t, err)
	next := *s.Secret.NextRotationTime
	if next-*s.Secret.CreateTime != 24*3600*1000 {
		t.Fatalf("next rotation %d, created %d", next, *s.Secret.CreateTime)
	}
	env.Server.SetClockOffset(25 * time.Hour)
	// The background sweeper rotates without any request touching the secret.
	deadline := time.Now().Add(30 * time.Second)
	for env.Count("ShowSecret", 200) >= 0 && time.Now().Before(deadline) {
		s, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "auto"})
		mustOK(t, err)
		if *s.Secret.RotationTime != 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if *s.Secret.RotationTime == 0 || *s.Secret.NextRotationTime != *s.Secret.RotationTime+24*3600*1000 {
		t.Fatalf("after rotation: rotation %d next %d", *s.Secret.RotationTime, *s.Secret.NextRotationTime)
	}
	v := showValue(t, c, "auto", "latest")
	if *v.VersionMetadata.Id != "v2" || *v.SecretString == "v1value" {
		t.Fatalf("rotated version %s", *v.VersionMetadata.Id)
	}
}

func TestTags(t *testing.T) {
	env, c := startEnv(t)
	a := createSecret(t, c, "alpha", "v")
	b := createSecret(t, c, "beta", "v")
	_, err := c.CreateSecretTag(&model.CreateSecretTagRequest{SecretId: *a.Id, Body: &model.CreateSecretTagRequestBody{Tag: &model.TagItem{Key: "managed-by", Value: ptr("csms-operator")}}})
	mustOK(t, err)
	_, err = c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *a.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "create",
		Tags: []model.TagItem{{Key: "owner", Value: ptr("ns/a")}, {Key: "env", Value: ptr("dev")}}}})
	mustOK(t, err)
	_, err = c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *b.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "create",
		Tags: []model.TagItem{{Key: "env", Value: ptr("prod")}}}})
	mustOK(t, err)
	lt, err := c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *a.Id})
	mustOK(t, err)
	if len(*lt.Tags) != 3 || (*lt.Tags)[0].Key != "managed-by" {
		t.Fatalf("tags %+v", *lt.Tags)
	}
	_, err = c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *a.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "delete", Tags: []model.TagItem{{Key: "owner"}}}})
	mustOK(t, err)
	_, err = c.DeleteSecretTag(&model.DeleteSecretTagRequest{SecretId: *a.Id, Key: "env"})
	mustOK(t, err)
	lt, _ = c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *a.Id})
	if len(*lt.Tags) != 1 {
		t.Fatalf("tags after deletes %+v", *lt.Tags)
	}
	pt, err := c.ListProjectSecretsTags(&model.ListProjectSecretsTagsRequest{})
	mustOK(t, err)
	if len(*pt.Tags) != 2 || *(*pt.Tags)[0].Key != "env" || len(*(*pt.Tags)[0].Values) != 1 {
		t.Fatalf("project tags %+v", *pt.Tags)
	}

	// Filter and count.
	fr, err := c.ListResourceInstances(&model.ListResourceInstancesRequest{ResourceInstances: "resource_instances", Body: &model.ListResourceInstancesRequestBody{Action: "filter",
		Tags: &[]model.Tag{{Key: ptr("managed-by"), Values: &[]string{"csms-operator"}}}}})
	mustOK(t, err)
	if *fr.TotalCount != 1 || *(*fr.Resources)[0].ResourceName != "alpha" || *(*fr.Resources)[0].ResourceDetail.Id != *a.Id {
		t.Fatalf("filter %+v", fr)
	}
	cr, err := c.ListResourceInstances(&model.ListResourceInstancesRequest{ResourceInstances: "resource_instances", Body: &model.ListResourceInstancesRequestBody{Action: "count",
		Matches: &[]model.TagMatches{{Key: ptr("resource_name"), Value: ptr("a")}}}})
	mustOK(t, err)
	if *cr.TotalCount != 2 {
		t.Fatalf("count by name: %d", *cr.TotalCount)
	}

	// Validation.
	long := string(make([]byte, 129))
	for name, tags := range map[string][]model.TagItem{
		"sys prefix": {{Key: "_sys_x", Value: ptr("v")}},
		"empty key":  {{Key: "", Value: ptr("v")}},
		"long key":   {{Key: long, Value: ptr("v")}},
		"long value": {{Key: "k", Value: ptr(string(make([]byte, 256)))}},
	} {
		_, err := c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *a.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "create", Tags: tags}})
		if s, code := apiErr(t, err); s != 400 || code != "CSMS.0002" {
			t.Errorf("%s: %d %s", name, s, code)
		}
	}
	_, err = c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *a.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "update", Tags: []model.TagItem{{Key: "k"}}}})
	wantErr(t, err, 400, "CSMS.0002")
	var many []model.TagItem
	for i := 0; i < 20; i++ {
		many = append(many, model.TagItem{Key: string(rune('a'+i)) + "x", Value: ptr("v")})
	}
	_, err = c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: *a.Id, Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "create", Tags: many}})
	wantErr(t, err, 400, "CSMS.0002") // 1 existing + 20 > 20
	_, err = c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: "00000000-0000-0000-0000-000000000000"})
	wantErr(t, err, 404, "CSMS.0106")
	_, err = c.DeleteSecretTag(&model.DeleteSecretTagRequest{SecretId: *a.Id, Key: "absent"})
	wantErr(t, err, 404, "CSMS.0005")
	r := raw(t, env, "POST", "/v1/{project_id}/csms/resource_instances/action", `{"action":"filter","limit":"0"}`, nil)
	if r.Status != 400 || r.Code != "CSMS.0002" {
		t.Fatalf("limit 0: %d %s", r.Status, r.Code)
	}
	// Deleting the secret removes its tags with it.
	_, err = c.DeleteSecret(&model.DeleteSecretRequest{SecretName: "alpha"})
	mustOK(t, err)
	_, err = c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *a.Id})
	wantErr(t, err, 404, "CSMS.0106")
}

func TestEvents(t *testing.T) {
	_, c := startEnv(t)
	enum := model.GetCreateSecretEventRequestBodyEventTypesEnum()
	notif := &model.Notification{TargetType: "SMN", TargetId: "urn:smn:cn-north-4:p:topic", TargetName: "topic"}
	body := model.CreateSecretEventRequestBody{Name: "ev1", EventTypes: []model.CreateSecretEventRequestBodyEventTypes{enum.SECRET_ROTATED, enum.SECRET_DELETED},
		State: model.GetCreateSecretEventRequestBodyStateEnum().ENABLED, Notification: notif}
	resp, err := c.CreateSecretEvent(&model.CreateSecretEventRequest{Body: &body})
	mustOK(t, err)
	if *resp.Event.Name != "ev1" || *resp.Event.EventId == "" || len(*resp.Event.EventTypes) != 2 {
		t.Fatalf("event %+v", resp.Event)
	}
	_, err = c.CreateSecretEvent(&model.CreateSecretEventRequest{Body: &body})
	wantErr(t, err, 400, "CSMS.0104")
	dup := body
	dup.Name, dup.EventTypes = "ev2", []model.CreateSecretEventRequestBodyEventTypes{enum.SECRET_ROTATED, enum.SECRET_ROTATED}
	_, err = c.CreateSecretEvent(&model.CreateSecretEventRequest{Body: &dup})
	wantErr(t, err, 400, "CSMS.0002")
	bad := body
	bad.Name = "bad.name"
	_, err = c.CreateSecretEvent(&model.CreateSecretEventRequest{Body: &bad})
	wantErr(t, err, 400, "CSMS.0002")

	dis := model.GetUpdateSecretEventRequestBodyStateEnum().DISABLED
	up, err := c.UpdateSecretEvent(&model.UpdateSecretEventRequest{EventName: "ev1", Body: &model.UpdateSecretEventRequestBody{State: &dis}})
	mustOK(t, err)
	if up.Event.State.Value() != "DISABLED" {
		t.Fatalf("state %v", up.Event.State)
	}
	sh, err := c.ShowSecretEvent(&model.ShowSecretEventRequest{EventName: "ev1"})
	mustOK(t, err)
	if sh.Event.State.Value() != "DISABLED" {
		t.Fatalf("show state %v", sh.Event.State)
	}
	ls, err := c.ListSecretEvents(&model.ListSecretEventsRequest{})
	mustOK(t, err)
	if len(*ls.Events) != 1 {
		t.Fatalf("events %d", len(*ls.Events))
	}
	// A subscribed event cannot be deleted; ListSecrets filters by event.
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "sub", SecretString: ptr("v"), EventSubscriptions: &[]string{"ev1"}}})
	mustOK(t, err)
	createSecret(t, c, "nosub", "v")
	l, err := c.ListSecrets(&model.ListSecretsRequest{EventName: ptr("ev1")})
	mustOK(t, err)
	if len(*l.Secrets) != 1 || *(*l.Secrets)[0].Name != "sub" {
		t.Fatalf("by event: %d", len(*l.Secrets))
	}
	_, err = c.DeleteSecretEvent(&model.DeleteSecretEventRequest{EventName: "ev1"})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.DeleteSecret(&model.DeleteSecretRequest{SecretName: "sub"})
	mustOK(t, err)
	_, err = c.DeleteSecretEvent(&model.DeleteSecretEventRequest{EventName: "ev1"})
	mustOK(t, err)
	_, err = c.ShowSecretEvent(&model.ShowSecretEventRequest{EventName: "ev1"})
	wantErr(t, err, 404, "CSMS.0005")
	// Subscriptions are not checked against existing events (inferredEventSubscriptionUnchecked).
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "subgone", SecretString: ptr("v"), EventSubscriptions: &[]string{"ev1"}}})
	mustOK(t, err)
	_, err = c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "subgone", Body: &model.UpdateSecretRequestBody{EventSubscriptions: &[]string{"never-made"}}})
	mustOK(t, err)
}

func TestBackupRestoreBlob(t *testing.T) {
	_, c := startEnv(t)
	createSecret(t, c, "bk", "backed-up")
	_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "bk", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("second")}})
	mustOK(t, err)
	blob, err := c.DownloadSecretBlob(&model.DownloadSecretBlobRequest{SecretName: "bk"})
	mustOK(t, err)
	if len(*blob.SecretBlob) < 32 {
		t.Fatalf("blob too short")
	}
	_, err = c.UploadSecretBlob(&model.UploadSecretBlobRequest{Body: &model.UploadSecretBlobRequestBody{SecretBlob: *blob.SecretBlob}})
	wantErr(t, err, 400, "CSMS.0104")
	_, err = c.DeleteSecret(&model.DeleteSecretRequest{SecretName: "bk"})
	mustOK(t, err)
	rs, err := c.UploadSecretBlob(&model.UploadSecretBlobRequest{Body: &model.UploadSecretBlobRequestBody{SecretBlob: *blob.SecretBlob}})
	mustOK(t, err)
	if *rs.Secret.Name != "bk" {
		t.Fatalf("restored %+v", rs.Secret)
	}
	if v := showValue(t, c, "bk", "v1"); *v.SecretString != "backed-up" {
		t.Fatalf("v1 after restore %q", *v.SecretString)
	}
	if v := showValue(t, c, "bk", "latest"); *v.SecretString != "second" {
		t.Fatalf("latest after restore %q", *v.SecretString)
	}
	_, err = c.UploadSecretBlob(&model.UploadSecretBlobRequest{Body: &model.UploadSecretBlobRequestBody{SecretBlob: "bm90IGEgYmxvYg=="}})
	wantErr(t, err, 400, "CSMS.0002")
	// A blob from another emulator (another master key) is refused.
	other := emulatortest.Start(t, emulatortest.Options{}).Client(t)
	_, err = other.UploadSecretBlob(&model.UploadSecretBlobRequest{Body: &model.UploadSecretBlobRequestBody{SecretBlob: *blob.SecretBlob}})
	wantErr(t, err, 400, "CSMS.0002")
}
