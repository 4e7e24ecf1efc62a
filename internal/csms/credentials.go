package csms

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/provider"
)

// Credentials is where a client's signing credentials come from. The implementations are
// StaticCredentials (keys read from a Secret) and EnvironmentCredentials (the SDK's
// credential chain of the manager's process). The interface is sealed: New knows how to
// turn each into an SDK credential, and nothing else needs to.
type Credentials interface {
	// Redact returns s with every credential value this source knows of replaced by
	// "[redacted]": a defence in depth for error text built around a failed build
	// (neither New nor the SDK is known to put a value in an error).
	Redact(s string) string

	// sdkCredential builds the SDK credential for projectID (empty: the SDK discovers
	// it) and returns it with the access key ID that keys the per-credential limiter.
	sdkCredential(projectID string) (auth.ICredential, string, error)
}

// StaticCredentials are an access key pair, with a security token for temporary
// credentials. Its String and GoString never print a value, so an accidental %v of a
// Config stays safe.
type StaticCredentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

var _ Credentials = StaticCredentials{}

func (c StaticCredentials) String() string   { return "static credentials" }
func (c StaticCredentials) GoString() string { return "csms.StaticCredentials{…}" }

// Redact implements Credentials.
func (c StaticCredentials) Redact(s string) string {
	return redact(s, c.AccessKey, c.SecretKey, c.SecurityToken)
}

func (c StaticCredentials) sdkCredential(projectID string) (auth.ICredential, string, error) {
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil, "", errors.New("csms: access key and secret key are required")
	}
	b := basic.NewCredentialsBuilder().WithAk(c.AccessKey).WithSk(c.SecretKey)
	if projectID != "" {
		b = b.WithProjectId(projectID)
	}
	if c.SecurityToken != "" {
		b = b.WithSecurityToken(c.SecurityToken)
	}
	cred, err := b.SafeBuild()
	if err != nil {
		return nil, "", fmt.Errorf("csms: building credentials: %w", err)
	}
	return cred, c.AccessKey, nil
}

// EnvironmentCredentials take credentials from the SDK's provider chain of this process:
// environment variables, the profile file, ECS agency metadata, CCE pod identity.
type EnvironmentCredentials struct{}

var _ Credentials = EnvironmentCredentials{}

func (EnvironmentCredentials) String() string { return "environment credentials" }

// environmentVariables hold values the chain may have used.
var environmentVariables = []string{"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN"}

// Redact implements Credentials: it scrubs the values of the SDK's environment variables.
func (EnvironmentCredentials) Redact(s string) string {
	values := make([]string, 0, len(environmentVariables))
	for _, v := range environmentVariables {
		values = append(values, os.Getenv(v))
	}
	return redact(s, values...)
}

func (EnvironmentCredentials) sdkCredential(projectID string) (auth.ICredential, string, error) {
	cred, err := safeBuild(provider.BasicCredentialProviderChain().GetCredentials)
	if err != nil {
		return nil, "", fmt.Errorf("csms: no credentials from the environment chain: %w", err)
	}
	ak := "environment"
	if bc, ok := cred.(*auth.BasicCredentials); ok {
		if projectID != "" {
			bc.ProjectId = projectID
		}
		if bc.AK != "" {
			ak = bc.AK
		}
	}
	return cred, ak, nil
}

func redact(s string, values ...string) string {
	for _, v := range values {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
