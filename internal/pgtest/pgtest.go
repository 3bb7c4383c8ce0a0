// Package pgtest gives tests a throw-away PostgreSQL database on the server
// CADDYAUTH_TEST_POSTGRES names (an admin DSN allowed to CREATE DATABASE;
// default postgres://postgres@127.0.0.1:5432/test?sslmode=disable, the
// server scripts/test.sh finds or starts). Tests that use it fail, never
// skip, when that server does not answer.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminDSN is used when CADDYAUTH_TEST_POSTGRES is unset.
const DefaultAdminDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// AdminDSN is the server tests create their databases on.
func AdminDSN() string {
	if dsn := os.Getenv("CADDYAUTH_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultAdminDSN
}

// Hint says how to provide a server, for failure messages.
const Hint = "These tests need a real PostgreSQL server. Run ./scripts/test.sh (it starts one " +
	"when none answers), or point CADDYAUTH_TEST_POSTGRES at a server where the test may " +
	"CREATE DATABASE, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Database is one throw-away database.
type Database struct {
	Name string
	DSN  string // connects to Name with the admin's credentials
}

// NewName is a random lower-case identifier with prefix.
func NewName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Create makes a fresh database on the admin server.
func Create(ctx context.Context) (*Database, error) {
	admin := AdminDSN()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is not reachable (CADDYAUTH_TEST_POSTGRES): %w\n%s", err, Hint)
	}
	defer c.Close(context.Background())
	name := NewName("caddyauth_test_")
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database %s: %w\n%s", name, err, Hint)
	}
	dsn, err := WithDatabase(admin, name)
	if err != nil {
		return nil, err
	}
	return &Database{Name: name, DSN: dsn}, nil
}

// Drop removes the database, closing what is still connected to it.
func (d *Database) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Name+" WITH (FORCE)")
	return err
}

// Schema makes a fresh schema in the database and returns a DSN whose
// search_path is that schema only, so each test gets empty tables without
// the cost of a database of its own.
func (d *Database) Schema(ctx context.Context) (string, error) {
	c, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	name := NewName("s_")
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", err
	}
	return withParam(d.DSN, "search_path", name)
}

// WithDatabase returns dsn (URL form) pointed at database name.
func WithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", fmt.Errorf("CADDYAUTH_TEST_POSTGRES must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

func withParam(dsn, k, v string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
