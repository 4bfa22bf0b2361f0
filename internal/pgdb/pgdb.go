// Package pgdb makes throwaway databases on a PostgreSQL server for the
// tests and the benchmarks: a fresh one for each use, dropped after it, so
// that nothing one run leaves behind is found by the next. It never touches
// a database it did not create.
package pgdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// Create creates an empty database named prefix and a random suffix on the
// server at serverURL (whose user needs CREATEDB) and returns its URL (the
// same server, user and options) and the function that drops it, with
// whatever is still connected to it.
func Create(ctx context.Context, serverURL, prefix string) (string, func() error, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("database URL: %w", err)
	}
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
