package session

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

func TestValidateID(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	u := &store.User{ID: "u1", Email: "a@example.com", Status: store.StatusActive}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	m, err := New(st, st, Config{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.Create(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.ValidateID(ctx, id.Session.ID)
	if err != nil || got.User.ID != "u1" {
		t.Fatalf("ValidateID = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", strings.ToUpper(id.Session.ID), id.Session.ID[:63] + "g", id.Session.ID + "0"} {
		if _, err := m.ValidateID(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("ValidateID(%q) = %v, want ErrNoSession", bad, err)
		}
	}
	// The same revocation path as a cookie: revoking by token ends it by id.
	if err := m.Revoke(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ValidateID(ctx, id.Session.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after revoke: %v", err)
	}
}

func TestValidateIDCachedNoAlloc(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	u := &store.User{ID: "u1", Email: "a@example.com", Status: store.StatusActive}
	_ = st.CreateUser(ctx, u)
	m, _ := New(st, st, Config{})
	id, _ := m.Create(ctx, u, "", "")
	sid := id.Session.ID
	if _, err := m.ValidateID(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.ValidateID(ctx, sid) }); n != 0 {
		t.Fatalf("cached ValidateID allocates %v times", n)
	}
}
