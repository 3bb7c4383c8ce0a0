package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRevokedPubSub: ids published by one store reach every subscriber on
// the same prefix, and a subscriber hears a resync at subscription.
func TestRevokedPubSub(t *testing.T) {
	a, _ := openTest(t)
	b := New(testClient(t), a.prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	resync := make(chan struct{}, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.SubscribeRevoked(ctx, func(id string) {
			mu.Lock()
			got = append(got, id)
			mu.Unlock()
		}, func() { resync <- struct{}{} })
	}()
	select {
	case <-resync:
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription confirmation")
	}
	if err := a.PublishRevoked(ctx, []string{"id1", "id2"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "id1" || got[1] != "id2" {
		t.Fatalf("received %q", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber did not stop with its context")
	}
}
