package store

import (
	"context"
)

// Publish sends one activity feed event to every replica's subscribers
// (this one's included, through its own subscription). It satisfies
// bridge.FeedBus with Subscribe.
func (r *Redis) Publish(ctx context.Context, event []byte) error {
	return r.call(ctx, "publish", func(ctx context.Context) error {
		return r.client.Publish(ctx, r.key("events"), event).Err()
	})
}

// Subscribe calls deliver with each event any replica publishes, in
// order, until ctx ends. It returns at once; the subscription reconnects
// by itself after an outage (events published meanwhile are lost, as
// the feed replays nothing).
func (r *Redis) Subscribe(ctx context.Context, deliver func(event []byte)) {
	ps := r.client.Subscribe(ctx, r.key("events"))
	ch := ps.Channel()
	go func() {
		<-ctx.Done()
		_ = ps.Close()
	}()
	go func() {
		for m := range ch {
			deliver([]byte(m.Payload))
		}
	}()
}
