package certificate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ErrNotValid is what VerifyCommand returns after printing a result that
// is not valid, so that the command exits 1.
var ErrNotValid = errors.New("certificate not valid")

// VerifyCommand reads one QR string from r, verifies it against the
// certificates in trustFile at time at, and writes the Result as JSON.
func VerifyCommand(r io.Reader, w io.Writer, trustFile string, at time.Time) error {
	b, err := os.ReadFile(trustFile)
	if err != nil {
		return fmt.Errorf("certificate: trust: %w", err)
	}
	trust, err := ParseCertificates(b)
	if err != nil {
		return fmt.Errorf("certificate: trust %s: %w", trustFile, err)
	}
	// A QR string fits in a few kilobytes; a scanner may add a newline.
	line, err := bufio.NewReader(io.LimitReader(r, 16<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("certificate: read QR string: %w", err)
	}
	res := Verify(strings.TrimSpace(line), trust, at)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<" is the ICAO filler in transliterated names
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("certificate: write result: %w", err)
	}
	if !res.Valid {
		return ErrNotValid
	}
	return nil
}
