package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"
)

// Turns keeps the bridge's halves of mixed tool turns in Redis, where the
// client's follow-up finds them whichever replica it reaches. Each turn
// is stored whole under each of its keys (the bridge's binding of the
// caller and a client call id), hashed so that key names show neither;
// Redis expires them. It satisfies bridge.TurnStore.
func (r *Redis) Turns() *Turns { return &Turns{r: r} }

// Turns is the shared store of mixed turns; see Redis.Turns. The zero
// Turns is not usable. It is safe for concurrent use.
type Turns struct{ r *Redis }

func (t *Turns) key(k string) string {
	sum := sha256.Sum256([]byte(k))
	return t.r.key("turn", hex.EncodeToString(sum[:]))
}

// Put stores turn under every key for ttl, in one transaction.
func (t *Turns) Put(ctx context.Context, keys []string, turn []byte, ttl time.Duration) error {
	return t.r.call(ctx, "turn_put", func(ctx context.Context) error {
		_, err := t.r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Set(ctx, t.key(k), turn, ttl)
			}
			return nil
		})
		return err
	})
}

// Get returns the turn stored under key; nil, nil when there is none.
func (t *Turns) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := t.r.call(ctx, "turn_get", func(ctx context.Context) error {
		var err error
		b, err = t.r.client.Get(ctx, t.key(key)).Bytes()
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Take returns what key held and removes it, in one command (GETDEL);
// nil, nil when there is none.
func (t *Turns) Take(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := t.r.call(ctx, "turn_take", func(ctx context.Context) error {
		var err error
		b, err = t.r.client.GetDel(ctx, t.key(key)).Bytes()
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}
