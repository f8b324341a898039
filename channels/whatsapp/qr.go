package whatsapp

import (
	"fmt"
	"io"

	"github.com/skip2/go-qrcode"
)

// PrintQR writes a pairing code as a QR code made of Unicode half blocks,
// small enough for an 80-column terminal; use it as Config.OnQR for
// `lindungi whatsapp pair`.
func PrintQR(w io.Writer, code string) error {
	q, err := qrcode.New(code, qrcode.Low)
	if err != nil {
		return fmt.Errorf("whatsapp: render QR: %w", err)
	}
	_, err = io.WriteString(w, q.ToSmallString(false))
	return err
}
