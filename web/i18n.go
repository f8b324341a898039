package web

// The console's second language. Templates are written in Indonesian; a
// user who chose English (accounts.User.Lang, stored per user) gets the
// same templates executed with functions bound to "en": label reads the
// English column of the label table, when writes English month names
// (still WIB), and tr looks the Indonesian phrase up in english. One
// template per page, so a page cannot exist in one language and not the
// other; TestEnglishCoversTemplates fails when a tr phrase has no English.

import (
	"fmt"
	"html/template"
	"sync"
	"time"

	"lindungi/accounts"
	"lindungi/jobs"
)

// langEN is the one language besides the default Indonesian.
const langEN = "en"

// langOf is the console language of u ("id" unless they chose English).
func langOf(u accounts.User) string {
	if u.Lang == langEN {
		return langEN
	}
	return "id"
}

func parsePages(lang string) *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"when":  func(t time.Time) string { return whenIn(lang, t) },
		"label": func(k string) string { return labelIn(lang, k) },
		"tr":    func(s string) string { return trIn(lang, s) },
		"lang":  func() string { return lang },
		"wa":    waFormat,
		"dur":   func(r jobs.Run) string { return runDuration(lang, r) },
	}).ParseFS(templateFS, "templates/*.html"))
}

// Both languages' templates are parsed on the first page served, not at
// package start: every command of the binary (the Docker healthcheck
// included) links this package.
var (
	pagesID = sync.OnceValue(func() *template.Template { return parsePages("id") })
	pagesEN = sync.OnceValue(func() *template.Template { return parsePages(langEN) })
)

func pagesIn(lang string) *template.Template {
	if lang == langEN {
		return pagesEN()
	}
	return pagesID()
}

// trIn is an Indonesian phrase of the console in lang. A phrase without an
// English entry stays Indonesian (the test above keeps that from happening
// to the templates' own phrases).
func trIn(lang, s string) string {
	if lang == langEN {
		if e, ok := english[s]; ok {
			return e
		}
	}
	return s
}

var monthsEN = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

// whenIn is whenID in lang: "4 December 2026 14.05 WIB" in English (the
// time zone stays WIB: the helpdesk works in Jakarta's time).
func whenIn(lang string, t time.Time) string {
	if lang != langEN {
		return whenID(t)
	}
	if t.IsZero() {
		return ""
	}
	l := t.In(wib)
	return fmt.Sprintf("%d %s %d %02d.%02d WIB", l.Day(), monthsEN[l.Month()-1], l.Year(), l.Hour(), l.Minute())
}

// spanIn is span in lang: "2 days 3 h", "3 h 20 min", "5 min".
func spanIn(lang string, d time.Duration) string {
	if lang != langEN {
		return span(d)
	}
	if d < 0 {
		d = -d
	}
	m := int(d / time.Minute)
	days, hours, mins := m/(24*60), m/60%24, m%60
	switch {
	case days == 1:
		return fmt.Sprintf("1 day %d h", hours)
	case days > 0:
		return fmt.Sprintf("%d days %d h", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d h %d min", hours, mins)
	default:
		return fmt.Sprintf("%d min", mins)
	}
}

// english is the console's English, keyed by the Indonesian the templates
// and handlers are written in.
var english = map[string]string{
	// layout and navigation
	"Kotak masuk":              "Inbox",
	"Catat panggilan 119":      "Log a 119 call",
	"Balasan siap pakai":       "Canned replies",
	"Dasbor":                   "Dashboard",
	"Keluar":                   "Log out",
	"Kasus Sijejak":            "Sijejak cases",
	"Pengguna":                 "Users",
	"Tugas terjadwal":          "Scheduled jobs",
	"Coba bot":                 "Try the bot",
	"Bahasa":                   "Language",
	"Ganti":                    "Switch",
	"Kesalahan":                "Error",
	"Tidak dapat diproses":     "Could not be processed",
	"Kembali ke daftar tiket":  "Back to the ticket list",
	"Kembali ke halaman utama": "Back to the start page",
	"Halaman yang Anda tuju tidak ada. Periksa alamatnya, atau kembali ke daftar tiket.": "The page you asked for does not exist. Check the address, or go back to the ticket list.",
	"Peran Anda tidak memiliki akses ke konsol tiket.":                                   "Your role has no access to the ticket console.",
	"Peran Anda tidak memiliki akses ke halaman ini.":                                    "Your role has no access to this page.",
	"Balasan terlalu panjang (lebih dari 64 KB); mohon persingkat.":                      "The text is too long (more than 64 KB); please shorten it.",
	"Sesi formulir tidak valid; muat ulang halaman.":                                     "The form's session is not valid; reload the page.",
	"Terjadi kesalahan internal; sudah dicatat.":                                         "An internal error occurred; it has been logged.",

	// inbox
	"Cari teks atau PL-… (tekan /)": "Search text or PL-… (press /)",
	"semua status":                  "all statuses",
	"semua kategori":                "all categories",
	"semua kanal":                   "all channels",
	"Petugas":                       "Operator",
	"Status":                        "Status",
	"Kategori":                      "Category",
	"Kanal":                         "Channel",
	"Urutan":                        "Order",
	"Saring":                        "Filter",
	"tiket tidak dapat diproses (sudah ditangani petugas lain atau sudah ditutup).": "tickets could not be processed (taken by another operator or already closed).",
	"Tiket terpilih:":                  "Selected tickets:",
	"Ambil":                            "Take",
	"nama petugas":                     "operator's name",
	"Tugaskan ke":                      "Assign to",
	"Tugaskan":                         "Assign",
	"Tutup":                            "Close",
	"Diperbarui otomatis setiap":       "Refreshed automatically every",
	"detik":                            "seconds",
	"terakhir":                         "last",
	"pintasan:":                        "shortcuts:",
	"cari":                             "search",
	"turun/naik":                       "down/up",
	"buka":                             "open",
	"ambil":                            "take",
	"pilih":                            "select",
	"Nomor":                            "Number",
	"Subjek":                           "Subject",
	"Umur":                             "Age",
	"Batas SLA":                        "SLA due",
	"Aktivitas terakhir":               "Last activity",
	"petugas":                          "operator",
	"dibuat":                           "created",
	"Tidak ada tiket di tampilan ini.": "No tickets in this view.",
	"Berikutnya →":                     "Next →",
	"kualitas nomor":                   "number quality",
	"batas percakapan":                 "conversation limit",
	"akun":                             "account",
	"sisa":                             "left",
	"lewat":                            "overdue by",

	"Belum ditangani":    "Unassigned",
	"Tiket saya":         "My tickets",
	"Semua":              "All",
	"Menunggu warga":     "Waiting for the citizen",
	"Melewati SLA":       "Past SLA",
	"Terbaru":            "Newest",
	"Terlama menunggu":   "Longest waiting",
	"Batas SLA terdekat": "Nearest SLA deadline",
	"< 4 jam":            "< 4 h",
	"4–24 jam":           "4–24 h",
	"1–3 hari":           "1–3 days",
	"> 3 hari":           "> 3 days",

	// ticket page
	"← Kotak masuk": "← Inbox",
	"Balasan dimasukkan ke antrean pengiriman.":                  "The reply is queued for sending.",
	"Catatan internal disimpan. Catatan tidak dikirim ke warga.": "Internal note saved. Notes are never sent to the citizen.",
	"aktivitas terakhir":    "last activity",
	"batas jawaban pertama": "first answer due",
	"Subjek:":               "Subject:",
	"Petugas:":              "Operator:",
	"belum ada":             "none yet",
	"Ambil tiket ini":       "Take this ticket",
	"Setiap pembukaan data pribadi dicatat dalam log audit":                  "Every reveal of personal data is recorded in the audit log",
	"Tampilkan NIK dan nomor HP":                                             "Show NIK and phone number",
	"(dicatat dalam log audit)":                                              "(recorded in the audit log)",
	"Data pribadi ditampilkan; pembukaan ini sudah dicatat dalam log audit.": "Personal data shown; this reveal has been recorded in the audit log.",
	"Percakapan":                    "Conversation",
	"Catatan internal":              "Internal note",
	"tidak dikirim ke warga":        "not sent to the citizen",
	"Warga":                         "Citizen",
	"alasan:":                       "reason:",
	"Tampilan asli surel (HTML)":    "Original e-mail view (HTML)",
	"Belum ada pesan.":              "No messages yet.",
	"Percakapan lengkap dengan bot": "Full conversation with the bot",
	"pesan bot":                     "bot messages",
	"Balas warga":                   "Reply to the citizen",
	"Pakai balasan siap pakai":      "Use canned reply",
	"Tulis balasan untuk warga…":    "Write a reply to the citizen…",
	"Kirim balasan":                 "Send reply",
	"Catatan untuk sesama petugas; tidak pernah dikirim ke warga…": "A note for fellow operators; never sent to the citizen…",
	"Simpan catatan":       "Save note",
	"Status dan kategori":  "Status and category",
	"Simpan":               "Save",
	"Tiket lain warga ini": "This citizen's other tickets",
	"Tidak ada.":           "None.",
	"Komentar warga":       "Citizen's comment",
	"Penilaian warga":      "Citizens' ratings",
	"Nilai dari warga":     "The citizen's rating",

	// ticket fields (fieldLabels, fieldValues)
	"Nama lengkap":     "Full name",
	"Tanggal lahir":    "Date of birth",
	"Nomor HP":         "Phone number",
	"Data yang diubah": "Data to change",
	"Nilai baru":       "New value",
	"Uraian keluhan":   "Complaint",
	"Lampiran":         "Attachment",
	"Jawaban melalui":  "Answer by",
	"Surel":            "E-mail",
	"Bahasa Indonesia": "Indonesian",
	"Bahasa Inggris":   "English",
	"ada":              "yes",
	"tidak ada":        "no",
	"nama":             "name",
	"tanggal lahir":    "date of birth",
	"nomor HP":         "phone number",
	"surel":            "e-mail",
	"telepon balik":    "call back",

	// call form
	"Catat panggilan Call Center 119 ext. 9": "Log a Call Center 119 ext. 9 call",
	"Panggilan menjadi tiket pada kanal Telepon 119. Nomor penelepon menghubungkan tiket ini dengan riwayat WhatsApp dan surelnya.": "The call becomes a ticket on the 119 phone channel. The caller's number links it to their WhatsApp and e-mail history.",
	"Nomor telepon penelepon":           "Caller's phone number",
	"Nama penelepon":                    "Caller's name",
	"NIK (tidak wajib)":                 "NIK (optional)",
	"Apa yang disampaikan penelepon":    "What the caller said",
	"Jawaban disampaikan melalui":       "Answer by",
	"Pesan WhatsApp ke nomor penelepon": "WhatsApp message to the caller's number",
	"Surel ke alamat:":                  "E-mail to:",
	"Telepon balik paling lambat:":      "Call back by:",
	"Simpan sebagai tiket":              "Save as a ticket",

	// canned replies
	"Variabel yang diisi otomatis:":                    "Variables filled in automatically:",
	"(nomor tiket) dan":                                "(ticket number) and",
	"(nama warga; bila kosong ditulis \"Bapak/Ibu\").": "(citizen's name; \"Bapak/Ibu\" when empty).",
	"Hanya supervisor yang dapat mengubah daftar ini.": "Only supervisors can change this list.",
	"Judul":                         "Title",
	"Teks":                          "Text",
	"Diubah oleh":                   "Changed by",
	"Diubah":                        "Changed",
	"Hapus":                         "Delete",
	"Belum ada balasan siap pakai.": "No canned replies yet.",
	"Tambah balasan":                "Add a reply",

	// dashboard
	"Dasbor layanan": "Service dashboard",
	"sampai":         "to",
	"hanya jumlah; NIK dan nomor HP dalam komentar warga disamarkan": "counts only; NIKs and phone numbers in citizens' comments are masked",
	"Melewati SLA sekarang":          "Past SLA now",
	"Jawaban pertama (median / p90)": "First answer (median / p90)",
	"Penilaian warga (rata-rata)":    "Citizens' rating (average)",
	"dari":                           "from",
	"penilaian":                      "ratings",
	"ditanya":                        "asked",
	"Penyelesaian (median / p90)":    "Resolution (median / p90)",
	"Selesai tanpa petugas":          "Solved without an operator",
	"Tiket masuk (hijau) dan keluar (cokelat) per hari": "Tickets in (green) and out (brown) per day",
	"Tiket masuk dan keluar per hari":                   "Tickets in and out per day",
	"Antrean menurut kategori":                          "Backlog by category",
	"Antrean menurut umur":                              "Backlog by age",
	"Nilai":                                             "Score",
	"masuk":                                             "in",
	"keluar":                                            "out",
	"Sijejak (14 hari terakhir)":                        "Sijejak (last 14 days)",
	"Kasus ditandai positif":                            "Cases marked positive",
	"Persetujuan unggah":                                "Upload consents",
	"Unggahan":                                          "Uploads",
	"Notifikasi kontak erat terkirim":                   "Close-contact notices sent",
	"Kotak surat":                                       "Mailboxes",
	"Kotak surat tidak dikonfigurasi.":                  "No mailboxes are configured.",
	"Terakhir diperiksa":                                "Last checked",
	"Belum diproses":                                    "Backlog",
	"Keadaan":                                           "State",
	"belum pernah":                                      "never",
	"Komentar terbaru warga":                            "Latest citizens' comments",
	"Belum ada komentar.":                               "No comments yet.",
	"Tiket":                                             "Ticket",
	"Komentar":                                          "Comment",
	"Waktu":                                             "Time",

	// health officer
	"Tandai positif":                           "Mark positive",
	"Kasus positif Sijejak":                    "Sijejak positive cases",
	"Nomor HP warga yang terdaftar di Sijejak": "The citizen's phone number registered with Sijejak",
	"Tanggal mulai gejala":                     "Symptom onset date",
	"Tanggal pengambilan spesimen":             "Specimen date",
	"Isi salah satu tanggal. Warga akan diminta persetujuan melalui WhatsApp untuk mengunggah riwayat kontaknya.": "Fill in one of the dates. The citizen will be asked over WhatsApp for consent to upload their contact history.",
	"Kasus ditandai; permintaan persetujuan dikirim ke warga.":                                                    "Case marked; the consent request was sent to the citizen.",
	"Kasus saya":         "My cases",
	"Semua kasus":        "All cases",
	"Kasus":              "Case",
	"Ditandai":           "Marked",
	"Oleh":               "By",
	"Menular sejak":      "Infectious from",
	"Persetujuan":        "Consent",
	"Kontak diberi tahu": "Contacts notified",
	"Belum ada kasus.":   "No cases yet.",
	"Hanya jumlah: siapa yang diberi tahu tidak pernah ditampilkan.": "Counts only: who was notified is never shown.",
	"diminta":     "requested",
	"disetujui":   "given",
	"ditolak":     "refused",
	"kedaluwarsa": "expired",

	// try the bot
	"Coba bot sebagai warga": "Try the bot as a citizen",
	"Percakapan ini berjalan di kanal simulator sebagai warga uji": "This conversation runs on the simulator channel as the test citizen",
	"Pendaftaran dan persetujuan Sijejak tidak berlaku dari sini.": "Sijejak registration and consent never count from here.",
	"Tulis pesan sebagai warga…":                                   "Write a message as the citizen…",
	"Kirim":                                                        "Send",
	"Bot":                                                          "Bot",
	"Anda":                                                         "You",
	"Belum ada percakapan. Mulai dengan \"halo\".": "No conversation yet. Start with \"halo\".",

	// login (shown before anyone is signed in, so in Indonesian for now;
	// the phrases are here so the page can follow a language later)
	"Masuk":                                "Log in",
	"Masuk ke konsol petugas":              "Log in to the operators' console",
	"Nama pengguna atau kata sandi salah.": "Wrong user name or password.",
	"Terlalu banyak percobaan masuk yang gagal. Silakan coba lagi dalam 15 menit.": "Too many failed login attempts. Please try again in 15 minutes.",
	"Nama pengguna": "User name",
	"Kata sandi":    "Password",

	// admin: users and API tokens
	"Pengguna dan token API": "Users and API tokens",
	"Akun pengguna":          "The user account",
	"dibuat. Sampaikan kata sandi dan token ini kepadanya sekarang: keduanya": "has been created. Give its holder this password and token now: both are",
	"hanya ditampilkan sekali":                 "shown only once",
	"dan tidak disimpan dalam bentuk terbaca.": "and are not stored in readable form.",
	"Kata sandi:":              "Password:",
	"Token API:":               "API token:",
	"Kata sandi baru untuk":    "New password for",
	"(sesinya telah diakhiri)": "(their session has been ended)",
	"Token API baru untuk":     "New API token for",
	"Nama":                     "Name",
	"Peran":                    "Role",
	"Token aktif":              "Active tokens",
	"Dibuat":                   "Created",
	"Tindakan":                 "Actions",
	"Ubah peran":               "Change role",
	"nonaktif":                 "disabled",
	"aktif":                    "active",
	"Aktifkan":                 "Enable",
	"Nonaktifkan":              "Disable",
	"Atur ulang kata sandi":    "Reset password",
	"Token baru":               "New token",
	"Tambah pengguna":          "Add a user",
	"Tambah":                   "Add",
	"Kata sandi dan token API dibuat otomatis dan ditampilkan sekali. Menonaktifkan akun mengakhiri sesinya; bila diaktifkan kembali, sesi dan perangkat lama tetap tidak berlaku (token API berlaku lagi kecuali dicabut).": "Passwords and API tokens are generated automatically and shown once. Disabling an account ends its session; when it is enabled again, its old sessions and devices remain invalid (its API tokens become valid again unless they were revoked).",
	"Token API":            "API tokens",
	"Pemilik":              "Owner",
	"Kedaluwarsa":          "Expires",
	"tidak pernah":         "never",
	"Cabut":                "Revoke",
	"Belum ada token API.": "No API tokens yet.",
	"Rahasia token tidak disimpan, jadi tidak dapat ditampilkan lagi; buat token baru bila hilang, lalu cabut yang lama.": "A token's secret is not stored, so it cannot be shown again; if it is lost, create a new token, then revoke the old one.",

	// admin: WhatsApp
	"Kanal WhatsApp tidak aktif pada gateway ini": "The WhatsApp channel is not enabled on this gateway",
	"Penyedia:":                       "Provider:",
	"Tidak perlu penautan perangkat.": "No device linking is needed.",
	"Peringkat kualitas":              "Quality rating",
	"belum dilaporkan":                "not reported yet",
	"Batas pesan (tier)":              "Messaging limit (tier)",
	"Akun":                            "Account",
	"perangkat tertaut":               "linked device",
	"WhatsApp di ponsel Kementerian → Perangkat tertaut": "WhatsApp on the Ministry's phone → Linked devices",
	"Status:":                "Status:",
	"sebagai":                "as",
	"Tautkan dengan kode QR": "Link with a QR code",
	"Di ponsel: WhatsApp → Setelan → Perangkat tertaut → Tautkan perangkat, lalu pindai kode ini. Kode berganti sendiri setiap beberapa puluh detik; halaman ini memperbaruinya tanpa dimuat ulang.": "On the phone: WhatsApp → Settings → Linked devices → Link a device, then scan this code. The code changes by itself every few tens of seconds; this page updates it without reloading.",
	"Kode QR penautan WhatsApp":         "WhatsApp linking QR code",
	"Atau tautkan dengan nomor telepon": "Or link with a phone number",
	"Nomor WhatsApp Kementerian":        "The Ministry's WhatsApp number",
	"Minta kode":                        "Request a code",
	"Ketik kode ini di ponsel (Perangkat tertaut → Tautkan dengan nomor telepon):": "Type this code on the phone (Linked devices → Link with phone number instead):",
	"Kode tidak dapat dibuat:": "The code could not be created:",
	"Perangkat sudah tertaut. Untuk menautkan ulang, keluarkan perangkat ini dari ponsel.": "The device is linked. To link it again, log this device out on the phone first.",
	"Kode QR muncul di sini saat gateway menunggu penautan.":                               "The QR code appears here while the gateway is waiting to be linked.",

	// admin: scheduled jobs (a job's description and error are data from
	// package jobs, in English, and are shown as they are)
	"Tugas": "Job",
	"dijalankan sekarang. Muat ulang halaman untuk melihat hasilnya.": "has been started. Reload the page to see its outcome.",
	"sedang berjalan; tidak dijalankan dua kali.":                     "is already running; it is not started twice.",
	"Jadwal":                           "Schedule",
	"Berikutnya":                       "Next run",
	"Terakhir":                         "Last run",
	"Hasil":                            "Outcome",
	"Durasi":                           "Duration",
	"Baris":                            "Rows",
	"Sedang berjalan":                  "Running",
	"Jalankan sekarang":                "Run now",
	"Riwayat terakhir":                 "Recent runs",
	"Sumber":                           "Source",
	"Mulai":                            "Started",
	"Simpul":                           "Node",
	"Belum ada tugas yang dijalankan.": "No job has run yet.",
	"Waktu dalam WIB. Di antara beberapa replika hanya satu yang menjalankan jadwal; \"Jalankan sekarang\" ditolak selama tugas itu masih berjalan di mana pun.": "Times are in WIB. Among several replicas only one runs the schedule; \"Run now\" is refused while the job is still running anywhere.",

	// errors of the console (consoleErrors)
	"Nomor HP tidak dikenali; tulis nomor HP Indonesia, misalnya 0812 3456 7890.": "The phone number is not recognised; write an Indonesian mobile number, e.g. 0812 3456 7890.",
}
