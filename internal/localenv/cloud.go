package localenv

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/csms"
)

// CloudAccount is one (region, endpoint, project) the cloud view reads as.
type CloudAccount struct {
	Region, Endpoint, AccessKey, SecretKey, ProjectID string
}

// CloudSecret is what CSMS holds for one secret: metadata and version IDs, never a value.
type CloudSecret struct {
	Region      string
	Name        string
	State       string
	ReplicaType string
	// Versions are "ID[STAGE,...]", newest first.
	Versions []string
	// Replicas are "REGION:STATUS".
	Replicas []string
	Tags     map[string]string
}

// CloudView lists every secret of the account with its versions, tags and replicas. It
// reads through the official SDK (list calls) and the operator's csms client (for the
// replica fields the SDK model lacks), just as an operator of the cloud account would.
func CloudView(ctx context.Context, a CloudAccount) ([]CloudSecret, error) {
	cred, err := basic.NewCredentialsBuilder().WithAk(a.AccessKey).WithSk(a.SecretKey).WithProjectId(a.ProjectID).SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("building credentials: %w", err)
	}
	hc, err := csmsv1.CsmsClientBuilder().WithEndpoints([]string{a.Endpoint}).WithCredential(cred).SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("building SDK client: %w", err)
	}
	api := csmsv1.NewCsmsClient(hc)
	seam, err := csms.New(csms.Config{Region: a.Region, Endpoint: a.Endpoint, ProjectID: a.ProjectID, Credentials: csms.StaticCredentials{AccessKey: a.AccessKey, SecretKey: a.SecretKey}})
	if err != nil {
		return nil, fmt.Errorf("building csms client: %w", err)
	}

	var names []string
	var marker *string
	for {
		limit := "50"
		resp, err := api.ListSecrets(&model.ListSecretsRequest{Limit: &limit, Marker: marker})
		if err != nil {
			return nil, fmt.Errorf("listing secrets in %s: %w", a.Region, err)
		}
		if resp.Secrets != nil {
			for _, s := range *resp.Secrets {
				if s.Name != nil {
					names = append(names, *s.Name)
				}
			}
		}
		if resp.PageInfo == nil || resp.PageInfo.NextMarker == nil || *resp.PageInfo.NextMarker == "" {
			break
		}
		marker = resp.PageInfo.NextMarker
	}
	sort.Strings(names)

	out := make([]CloudSecret, 0, len(names))
	for _, name := range names {
		s, err := seam.GetSecret(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("reading secret %s in %s: %w", name, a.Region, err)
		}
		cs := CloudSecret{Region: a.Region, Name: name, State: s.State, ReplicaType: s.ReplicaType}
		for _, r := range s.Replicas {
			cs.Replicas = append(cs.Replicas, r.Region+":"+r.Status)
		}
		if s.ID != "" {
			if cs.Tags, err = seam.ListTags(ctx, s.ID); err != nil && !errors.Is(err, csms.ErrNotFound) {
				return nil, fmt.Errorf("listing tags of %s in %s: %w", name, a.Region, err)
			}
		}
		// Versions are readable only while the secret is ENABLED.
		if s.State == csms.StateEnabled {
			vr, err := api.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: name})
			if err != nil {
				return nil, fmt.Errorf("listing versions of %s in %s: %w", name, a.Region, err)
			}
			if vr.VersionMetadatas != nil {
				for _, v := range *vr.VersionMetadatas {
					id := ""
					if v.Id != nil {
						id = *v.Id
					}
					if v.VersionStages != nil && len(*v.VersionStages) > 0 {
						id += "[" + strings.Join(*v.VersionStages, ",") + "]"
					}
					cs.Versions = append(cs.Versions, id)
				}
			}
		}
		out = append(out, cs)
	}
	return out, nil
}
