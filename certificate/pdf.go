package certificate

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
)

// Document is what the certificate PDF shows. Doses are every dose the
// registry holds; the QR carries the signed latest one (an EU DCC holds one
// vaccination entry per certificate).
type Document struct {
	Name      string
	NIK       string // printed masked
	BirthDate time.Time
	Doses     []DocumentDose
	QR        string // the HC1: string
	VerifyURL string // where anyone can check a QR string
	IssuedAt  time.Time
}

// DocumentDose is one line of the doses table.
type DocumentDose struct {
	Number  int
	Date    time.Time
	Vaccine string
	Place   string
}

// MaskNIK keeps the first and last four digits, enough for a citizen to
// recognise their own number and too little to use someone else's.
func MaskNIK(nik string) string {
	if len(nik) != 16 {
		return strings.Repeat("*", len(nik))
	}
	return nik[:4] + " **** **** " + nik[12:]
}

// The months in Indonesian: the certificate is bilingual, and a date like
// 17 Agustus 1990 is read the same by both audiences.
var bulan = [...]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}

func tanggal(t time.Time) string {
	return fmt.Sprintf("%d %s %d", t.Day(), bulan[t.Month()-1], t.Year())
}

// PDF renders the certificate on one A4 page.
func PDF(d Document) ([]byte, error) {
	png, err := qrcode.Encode(d.QR, qrcode.Medium, 512)
	if err != nil {
		return nil, fmt.Errorf("certificate: QR code: %w", err)
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	// The core fonts are Windows-1252: names with letters outside it print
	// as "?", which is why the transliterated name is on the QR as well.
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetTitle("Sertifikat Vaksinasi COVID-19", true)
	pdf.SetAuthor("Kementerian Kesehatan Republik Indonesia", true)
	pdf.SetCreationDate(d.IssuedAt)
	pdf.SetMargins(20, 20, 20)
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 6, "KEMENTERIAN KESEHATAN REPUBLIK INDONESIA", "", 1, "C", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	pdf.CellFormat(0, 5, "Ministry of Health of the Republic of Indonesia", "", 1, "C", false, 0, "")
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 8, "Sertifikat Vaksinasi COVID-19", "", 1, "C", false, 0, "")
	pdf.SetFont("Helvetica", "I", 11)
	pdf.CellFormat(0, 6, "COVID-19 Vaccination Certificate", "", 1, "C", false, 0, "")
	pdf.Ln(8)

	field := func(id, en, val string) {
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(55, 6, tr(id+" / "+en), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "B", 11)
		pdf.CellFormat(0, 6, tr(val), "", 1, "L", false, 0, "")
	}
	field("Nama", "Name", d.Name)
	field("NIK", "ID number", MaskNIK(d.NIK))
	field("Tanggal lahir", "Date of birth", tanggal(d.BirthDate))
	pdf.Ln(6)

	pdf.SetFont("Helvetica", "B", 9)
	pdf.SetFillColor(230, 236, 240)
	cols := []struct {
		head string
		w    float64
	}{{"Dosis / Dose", 22}, {"Tanggal / Date", 38}, {"Vaksin / Vaccine", 45}, {"Tempat / Place", 65}}
	for _, c := range cols {
		pdf.CellFormat(c.w, 7, c.head, "1", 0, "L", true, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 9)
	for _, dose := range d.Doses {
		pdf.CellFormat(cols[0].w, 7, fmt.Sprint(dose.Number), "1", 0, "C", false, 0, "")
		pdf.CellFormat(cols[1].w, 7, tanggal(dose.Date), "1", 0, "L", false, 0, "")
		pdf.CellFormat(cols[2].w, 7, tr(dose.Vaccine), "1", 0, "L", false, 0, "")
		pdf.CellFormat(cols[3].w, 7, tr(dose.Place), "1", 1, "L", false, 0, "")
	}
	pdf.Ln(8)

	opt := fpdf.ImageOptions{ImageType: "PNG"}
	pdf.RegisterImageOptionsReader("qr", opt, bytes.NewReader(png))
	x := (210 - 70) / 2.0
	pdf.ImageOptions("qr", x, pdf.GetY(), 70, 70, true, opt, 0, "")
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "", 8)
	pdf.MultiCell(0, 4.5, tr("Kode QR ini ditandatangani secara elektronik oleh Kementerian Kesehatan dan dapat diperiksa keasliannya di "+d.VerifyURL+"\n"+
		"This QR code is electronically signed by the Ministry of Health; anyone can check it at "+d.VerifyURL), "", "C", false)
	pdf.Ln(2)
	pdf.CellFormat(0, 5, "Diterbitkan / Issued: "+tanggal(d.IssuedAt), "", 1, "C", false, 0, "")

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("certificate: PDF: %w", err)
	}
	return out.Bytes(), nil
}
