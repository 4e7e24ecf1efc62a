package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
)

// errBoom is a generic failure for tests.
var errBoom = errors.New("boom")

// fakeCSMS is a function-field fake of csms.Client. A call whose function is nil fails
// the test through unexpected (recorded), so a test states every call it allows.
type fakeCSMS struct {
	mu    sync.Mutex
	calls []string

	GetSecretFn        func(name string) (*csms.Secret, error)
	CreateSecretFn     func(in csms.CreateSecretInput) (*csms.Secret, error)
	UpdateSecretFn     func(name string, in csms.UpdateSecretInput) (*csms.Secret, error)
	DeleteSecretFn     func(name string) error
	ScheduleDeletionFn func(name string, days int32) (*csms.Secret, error)
	RestoreSecretFn    func(name string) (*csms.Secret, error)
	GetCurrentValueFn  func(name string) (csms.Value, string, error)
	PutValueFn         func(name string, v csms.Value) (string, error)
	CurrentVersionIDFn func(name string) (string, error)
	ListTagsFn         func(id string) (map[string]string, error)
	UpdateTagsFn       func(id string, set map[string]string, remove []string) error
	CreateReplicaFn    func(name string, r csms.ReplicaInput) (*csms.Replica, error)
}

var _ csms.Client = (*fakeCSMS)(nil)

var errUnexpected = errors.New("unexpected call")

func (f *fakeCSMS) record(op string) {
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
}

func (f *fakeCSMS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func unexpected(op string) error { return fmt.Errorf("%s: %w", op, errUnexpected) }

func (f *fakeCSMS) GetSecret(_ context.Context, name string) (*csms.Secret, error) {
	f.record("GetSecret")
	if f.GetSecretFn == nil {
		return nil, unexpected("GetSecret")
	}
	return f.GetSecretFn(name)
}

func (f *fakeCSMS) CreateSecret(_ context.Context, in csms.CreateSecretInput) (*csms.Secret, error) {
	f.record("CreateSecret")
	if f.CreateSecretFn == nil {
		return nil, unexpected("CreateSecret")
	}
	return f.CreateSecretFn(in)
}

func (f *fakeCSMS) UpdateSecret(_ context.Context, name string, in csms.UpdateSecretInput) (*csms.Secret, error) {
	f.record("UpdateSecret")
	if f.UpdateSecretFn == nil {
		return nil, unexpected("UpdateSecret")
	}
	return f.UpdateSecretFn(name, in)
}

func (f *fakeCSMS) DeleteSecret(_ context.Context, name string) error {
	f.record("DeleteSecret")
	if f.DeleteSecretFn == nil {
		return unexpected("DeleteSecret")
	}
	return f.DeleteSecretFn(name)
}

func (f *fakeCSMS) ScheduleDeletion(_ context.Context, name string, days int32) (*csms.Secret, error) {
	f.record("ScheduleDeletion")
	if f.ScheduleDeletionFn == nil {
		return nil, unexpected("ScheduleDeletion")
	}
	return f.ScheduleDeletionFn(name, days)
}

func (f *fakeCSMS) RestoreSecret(_ context.Context, name string) (*csms.Secret, error) {
	f.record("RestoreSecret")
	if f.RestoreSecretFn == nil {
		return nil, unexpected("RestoreSecret")
	}
	return f.RestoreSecretFn(name)
}

func (f *fakeCSMS) GetCurrentValue(_ context.Context, name string) (csms.Value, string, error) {
	f.record("GetCurrentValue")
	if f.GetCurrentValueFn == nil {
		return csms.Value{}, "", unexpected("GetCurrentValue")
	}
	return f.GetCurrentValueFn(name)
}

func (f *fakeCSMS) PutValue(_ context.Context, name string, v csms.Value) (string, error) {
	f.record("PutValue")
	if f.PutValueFn == nil {
		return "", unexpected("PutValue")
	}
	return f.PutValueFn(name, v)
}

func (f *fakeCSMS) CurrentVersionID(_ context.Context, name string) (string, error) {
	f.record("CurrentVersionID")
	if f.CurrentVersionIDFn == nil {
		return "", unexpected("CurrentVersionID")
	}
	return f.CurrentVersionIDFn(name)
}

func (f *fakeCSMS) ListTags(_ context.Context, id string) (map[string]string, error) {
	f.record("ListTags")
	if f.ListTagsFn == nil {
		return nil, unexpected("ListTags")
	}
	return f.ListTagsFn(id)
}

func (f *fakeCSMS) UpdateTags(_ context.Context, id string, set map[string]string, remove []string) error {
	f.record("UpdateTags")
	if f.UpdateTagsFn == nil {
		return unexpected("UpdateTags")
	}
	return f.UpdateTagsFn(id, set, remove)
}

func (f *fakeCSMS) CreateReplica(_ context.Context, name string, r csms.ReplicaInput) (*csms.Replica, error) {
	f.record("CreateReplica")
	if f.CreateReplicaFn == nil {
		return nil, unexpected("CreateReplica")
	}
	return f.CreateReplicaFn(name, r)
}

// fakeResolver returns a fixed client or error, and a config with the given policy.
type fakeResolver struct {
	client csms.Client
	err    error
	policy v1alpha1.ProviderPolicy
}

func (f *fakeResolver) ClientFor(context.Context, string, v1alpha1.ProviderConfigReference) (csms.Client, *provider.Target, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	return f.client, &provider.Target{Key: "ClusterProviderConfig/default", Policy: f.policy}, nil
}

// allowAll is a provider policy that allows adoption and observing.
var allowAll = v1alpha1.ProviderPolicy{AllowAdoption: true, AllowObserve: true}
