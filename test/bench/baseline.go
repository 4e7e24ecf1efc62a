package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	"golang.org/x/time/rate"
)

// Shard is one emulator account/project. The emulator caps a project at 500 secrets (as
// CSMS does by default), so N > 500 is spread over several projects; the rate limit Q is
// split evenly between them, so the total stays Q (see docs/performance.md).
type Shard struct {
	AK, SK, ProjectID string
	// QPS is this shard's share of the rate limit; 0 = unlimited.
	QPS int
	// Burst is the depth of the clients' token bucket for this shard (the operator's
	// rateLimit.burst and the baseline's limiter); 0 = QPS. The emulator's bucket is always
	// QPS deep.
	Burst int
}

// ClientBurst is the client bucket depth for a shard of qps at pct percent of the
// emulator's depth (qps), at least 1.
func ClientBurst(qps, pct int) int {
	return max(1, qps*pct/100)
}

// burst is the client bucket depth of the shard.
func (s Shard) burst() int {
	if s.Burst > 0 {
		return s.Burst
	}
	return s.QPS
}

// Item is one secret of the workload.
type Item struct {
	Namespace, Name string
	Shard           int
	Value           string
}

// newSDKClient builds the official SDK's typed CSMS client for one shard of the emulator.
func newSDKClient(endpoint string, sh Shard) (*csmsv1.CsmsClient, error) {
	cred, err := basic.NewCredentialsBuilder().WithAk(sh.AK).WithSk(sh.SK).WithProjectId(sh.ProjectID).SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("building SDK credentials: %w", err)
	}
	hc, err := csmsv1.CsmsClientBuilder().
		WithEndpoints([]string{endpoint}).
		WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(30 * time.Second)).
		SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("building the SDK client: %w", err)
	}
	return csmsv1.NewCsmsClient(hc), nil
}

// BaselineResult is what the SDK loop did.
type BaselineResult struct {
	Elapsed time.Duration
	// Throttled counts 429 answers that had to be retried (the client-side limiter keeps
	// this near zero; it is reported so a mismatch of limits shows).
	Throttled int64
	// Done holds, for each secret, when its tag call returned, counted from the start: the
	// baseline's counterpart of a ManagedSecret turning Ready.
	Done []time.Duration
}

// RunBaseline is the physical limit of the work: for each item, the two calls any correct
// operator must make — CreateSecret with the value, then one batch tag call — with
// `concurrency` workers, each shard paced by a client-side token bucket of its QPS and
// Burst, the same as the operator's rateLimit, so that it runs at, not over, the
// emulator's limit. A
// 429 that still happens is retried after a short pause. Nothing else: no reads, no
// Kubernetes.
func RunBaseline(ctx context.Context, endpoint string, shards []Shard, items []Item, concurrency int, tagsOf func(Item) map[string]string) (BaselineResult, error) {
	clients := make([]*csmsv1.CsmsClient, len(shards))
	limiters := make([]*rate.Limiter, len(shards))
	for i, sh := range shards {
		c, err := newSDKClient(endpoint, sh)
		if err != nil {
			return BaselineResult{}, err
		}
		clients[i] = c
		limiters[i] = rate.NewLimiter(rate.Inf, 1)
		if sh.QPS > 0 {
			limiters[i] = rate.NewLimiter(rate.Limit(sh.QPS), sh.burst())
		}
	}
	var throttled atomic.Int64
	var doneMu sync.Mutex
	done := make([]time.Duration, 0, len(items))
	// call runs one SDK call under the shard's limiter, retrying 429 (bounded).
	call := func(ctx context.Context, shard int, fn func() error) error {
		for attempt := 0; ; attempt++ {
			if err := limiters[shard].Wait(ctx); err != nil {
				return err
			}
			err := fn()
			var sre *sdkerr.ServiceResponseError
			if err == nil || !errors.As(err, &sre) || sre.StatusCode != http.StatusTooManyRequests || attempt >= 20 {
				return err
			}
			throttled.Add(1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
			}
		}
	}

	jobs := make(chan Item)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				if err := baselineOne(ctx, clients[it.Shard], it, tagsOf(it), func(fn func() error) error { return call(ctx, it.Shard, fn) }); err != nil {
					errs <- err
					cancel()
					return
				}
				doneMu.Lock()
				done = append(done, time.Since(start))
				doneMu.Unlock()
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case jobs <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return BaselineResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return BaselineResult{}, fmt.Errorf("baseline interrupted: %w", err)
	}
	return BaselineResult{Elapsed: elapsed, Throttled: throttled.Load(), Done: done}, nil
}

func baselineOne(ctx context.Context, c *csmsv1.CsmsClient, it Item, tags map[string]string, call func(func() error) error) error {
	var id string
	err := call(func() error {
		v := it.Value
		resp, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: it.Name, SecretString: &v}})
		if err != nil {
			return err
		}
		if resp.Secret == nil || resp.Secret.Id == nil {
			return errors.New("CreateSecret answered without a secret id")
		}
		id = *resp.Secret.Id
		return nil
	})
	if err != nil {
		// The error carries the SDK's status and error code, never the value.
		return fmt.Errorf("baseline CreateSecret %s: %w", it.Name, err)
	}
	items := make([]model.TagItem, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		v := tags[k]
		items = append(items, model.TagItem{Key: k, Value: &v})
	}
	err = call(func() error {
		_, err := c.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{
			SecretId: id,
			Body:     &model.BatchCreateOrDeleteTagsRequestBody{Tags: items, Action: "create"},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("baseline tagging %s: %w", it.Name, err)
	}
	return ctx.Err()
}

// MaxSecretsPerProject is the emulator's (and CSMS's default) secret quota per project.
const MaxSecretsPerProject = 500

// ShardsFor returns how many projects n secrets need.
func ShardsFor(n int) int { return (n + MaxSecretsPerProject - 1) / MaxSecretsPerProject }

// MakeShards returns p shards whose QPS add up to at most qps (qps 0 = unlimited). Each
// gets floor(qps/p), at least 1; the caller reports the effective total.
func MakeShards(p, qps int) []Shard {
	out := make([]Shard, p)
	for i := range out {
		out[i] = Shard{
			AK:        fmt.Sprintf("bench-ak-%02d", i),
			SK:        fmt.Sprintf("bench-sk-%02d", i),
			ProjectID: fmt.Sprintf("%032x", 0xbe0c0+i),
		}
		if qps > 0 {
			out[i].QPS = max(1, qps/p)
		}
	}
	return out
}

// MakeItems returns n items named <prefix>-00000…, spread round-robin over namespaces
// bench-0…bench-(namespaces-1) and over the shards, each with a random value.
func MakeItems(n, shards, namespaces int, prefix string) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{
			Namespace: fmt.Sprintf("bench-%d", i%namespaces),
			Name:      fmt.Sprintf("%s-%05d", prefix, i),
			Shard:     i % shards,
			Value:     randomValue(),
		}
	}
	return items
}
