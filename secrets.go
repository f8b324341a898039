package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// cmdSecrets writes the files docker-compose.yml and
// docker-compose.postgres.yml read as secrets, so an operator does not
// assemble them by hand: the data key, the PostgreSQL password and the
// database URL built from it. An existing file is never replaced:
// replacing the data key would make every sealed field unreadable.
//
// The directory is 0700; the files in it are 0644 because Compose (without
// Swarm) bind-mounts a secret file as it is, and the gateway runs as uid
// 65532, not as the file's owner.
func cmdSecrets(args []string, stdout io.Writer) error {
	const use = "usage: lindungi secrets init [--dir DIR]"
	if len(args) == 0 || args[0] != "init" {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("secrets init", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dir := fs.String("dir", "secrets", "where to write data_key, pg_password and database_url")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(use)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	if err := os.Chmod(*dir, 0o700); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	password, err := readOrCreate(*dir, "pg_password", stdout, func() string { return randomHex(24) })
	if err != nil {
		return err
	}
	if _, err := readOrCreate(*dir, "data_key", stdout, func() string { return randomHex(32) }); err != nil {
		return err
	}
	if _, err := readOrCreate(*dir, "database_url", stdout, func() string {
		return "postgres://lindungi:" + password + "@postgres:5432/lindungi?sslmode=disable"
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Back up %s apart from the database backups: without data_key the sealed data cannot be read.\n",
		filepath.Join(absDir(*dir), "data_key"))
	return nil
}

// readOrCreate returns the file's content, writing gen() into it first
// if it does not exist.
func readOrCreate(dir, name string, stdout io.Writer, gen func() string) (string, error) {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err == nil {
		fmt.Fprintf(stdout, "kept    %s (exists)\n", p)
		return string(trimNewline(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("secrets: %w", err)
	}
	v := gen()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("secrets: write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("secrets: write %s: %w", p, err)
	}
	fmt.Fprintf(stdout, "created %s\n", p)
	return v, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
