package csms

import (
	"context"
	"errors"

	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

// CredentialsVerifier checks that CSMS accepts a client's credentials. It is apart from
// Client because only the provider-config reconcilers need it; the SDK client implements
// both.
type CredentialsVerifier interface {
	// VerifyCredentials makes one cheap signed read (ListSecrets with limit 1) and
	// returns nil when CSMS accepted the signature: any answer but 401/403, throttling or
	// a transport failure. Otherwise the error matches ErrUnauthorized, ErrThrottled or
	// ErrTransient (5xx after retries, connection refused, DNS, timeout) and can be
	// inspected with errors.As(err, **APIError).
	VerifyCredentials(ctx context.Context) error
}

var _ CredentialsVerifier = (*sdkClient)(nil)

const opVerifyCredentials = "ListSecrets"

// listProbe is the response of the probe: only the status matters, so the body (secret
// names) is not decoded.
type listProbe struct {
	HttpStatusCode int `json:"-"`
}

func (c *sdkClient) VerifyCredentials(ctx context.Context) error {
	limit := "1"
	_, err := c.call(ctx, opVerifyCredentials, idempotent, func() (any, error) {
		d := csmsv1.GenReqDefForListSecrets()
		resp := new(listProbe)
		d.Response = resp
		if _, err := c.api.HcClient.Sync(&model.ListSecretsRequest{Limit: &limit}, d); err != nil {
			return nil, err
		}
		return resp, nil
	})
	if err == nil {
		return nil
	}
	var ae *APIError
	switch {
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrThrottled):
		return err
	case errors.Is(err, ErrTransient) && (!errors.As(err, &ae) || ae.StatusCode <= 0 || ae.StatusCode >= 400):
		return err
	default:
		// The service answered and so verified the signature; what it said about the
		// request (a 400, an undecodable 200) does not matter here.
		return nil
	}
}
