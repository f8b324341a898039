package certificate

import (
	"bytes"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lindungi/store/storetest"
)

func TestMaskNIK(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"3174055708900003", "3174 **** **** 0003"},
		{"12345", "*****"},
		{"", ""},
	} {
		if got := MaskNIK(c.in); got != c.want {
			t.Errorf("MaskNIK(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPDFFirstPage renders a certificate, reads its text back with
// pdftotext and its first page as a PNG with pdftoppm (poppler-utils), and
// keeps the PNG for a person to look at (the path is logged).
func TestPDFFirstPage(t *testing.T) {
	for _, tool := range []string{"pdftoppm", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			storetest.SkipOrFail(t, tool+" is not installed (apt-get install poppler-utils)")
		}
	}
	s := testSigner(t)
	now := time.Now()
	qr, err := s.Issue(sampleDCC(), now)
	if err != nil {
		t.Fatal(err)
	}
	date := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	doc, err := PDF(Document{
		Name: "Siti Nurhaliza", NIK: "3174055708900003", BirthDate: date("1990-07-17"),
		Doses: []DocumentDose{
			{1, date("2021-07-05"), "CoronaVac", "Puskesmas Kebayoran Baru"},
			{2, date("2021-08-02"), "CoronaVac", "Puskesmas Kebayoran Baru"},
		},
		QR: qr, VerifyURL: "https://lindungi.example/verify", IssuedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdfFile := filepath.Join(dir, "sertifikat.pdf")
	if err := os.WriteFile(pdfFile, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := exec.Command("pdftotext", "-layout", pdfFile, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	for _, want := range []string{"Siti Nurhaliza", "3174 **** **** 0003", "17 Juli 1990", "5 Juli 2021", "2 Agustus 2021", "CoronaVac", "Puskesmas Kebayoran Baru", "https://lindungi.example/verify"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if strings.Contains(string(text), "3174055708900003") {
		t.Error("the PDF shows the NIK in full")
	}

	out := filepath.Join(os.TempDir(), "lindungi-artifacts")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(out, "certificate-page")
	if b, err := exec.Command("pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", pdfFile, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, b)
	}
	pngFile := prefix + ".png"
	b, err := os.ReadFile(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("page PNG: %v", err)
	}
	// A4 at 100 dpi is about 827×1169 (poppler rounds); the page must
	// carry ink (text and the QR).
	bnd := img.Bounds()
	dark := 0
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x4000 {
				dark++
			}
		}
	}
	if abs(bnd.Dx()-827) > 2 || abs(bnd.Dy()-1169) > 2 || dark < bnd.Dx()*bnd.Dy()/50 {
		t.Errorf("page %dx%d with %d dark pixels: not a rendered certificate", bnd.Dx(), bnd.Dy(), dark)
	}
	t.Logf("first page rendered to %s (%d dark pixels)", pngFile, dark)
}

func abs(n int) int { return max(n, -n) }
