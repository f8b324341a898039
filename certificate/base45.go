package certificate

import (
	"errors"
	"fmt"
	"strings"
)

// The Base45 alphabet of RFC 9285: exactly the characters a QR code's
// alphanumeric mode encodes, which is why HCERT uses it.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var errBase45 = errors.New("not Base45")

// base45Encode encodes per RFC 9285: two bytes become three characters, a
// trailing byte two.
func base45Encode(b []byte) string {
	var s strings.Builder
	s.Grow((len(b)/2)*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[(n/45)%45])
		s.WriteByte(base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45])
	}
	return s.String()
}

// base45Decode rejects what RFC 9285 calls invalid: characters outside the
// alphabet, a lone trailing character, and groups worth more than their
// bytes can hold.
func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a lone character", errBase45, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	val := func(c byte) (int, error) {
		i := strings.IndexByte(base45Alphabet, c)
		if i < 0 {
			return 0, fmt.Errorf("%w: character %q", errBase45, c)
		}
		return i, nil
	}
	for i := 0; i < len(s); i += 3 {
		group := s[i:min(i+3, len(s))]
		n, w := 0, 1
		for j := 0; j < len(group); j++ {
			v, err := val(group[j])
			if err != nil {
				return nil, err
			}
			n += v * w
			w *= 45
		}
		if len(group) == 3 {
			if n > 0xFFFF {
				return nil, fmt.Errorf("%w: group %q exceeds two bytes", errBase45, group)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xFF {
				return nil, fmt.Errorf("%w: group %q exceeds one byte", errBase45, group)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
