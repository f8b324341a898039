package selfservice

import "strings"

// texts are the citizen-facing messages of self-service, Indonesian first.
// They live here rather than in bot/catalog because they belong to the
// rules of this package (who may see what), not to the conversation.
var texts = map[string]map[string]string{
	"id": {
		"checking":          "Terima kasih. Kami sedang memeriksa data vaksinasi Bapak/Ibu di sistem Kementerian Kesehatan. Mohon tunggu sebentar.",
		"not_found":         "Mohon maaf, kami tidak menemukan data dengan NIK dan tanggal lahir tersebut. Mohon periksa kembali keduanya sesuai KTP/KK. Sisa percobaan: {left}.",
		"locked":            "Demi keamanan data, pencarian dari nomor ini kami hentikan sementara karena terlalu banyak percobaan yang tidak cocok. Bila Bapak/Ibu memerlukan bantuan, balas *MENU* lalu pilih *4* untuk berbicara dengan petugas.",
		"unavailable":       "Mohon maaf, sistem data vaksinasi sedang tidak dapat dihubungi. Silakan coba lagi beberapa saat lagi. Pesan Bapak/Ibu sudah kami simpan.",
		"unavailable_filed": "Mohon maaf, sistem data vaksinasi sedang tidak dapat dihubungi. Laporan Bapak/Ibu sudah kami catat dengan nomor *{ticket}* dan akan ditindaklanjuti petugas.",
		"otp_sent":          "Nomor WhatsApp ini berbeda dengan nomor yang terdaftar pada data vaksinasi. Kami telah mengirim kode 6 angka ke nomor yang terdaftar pada data tersebut. Demi keamanan data, nomor itu tidak kami sebutkan di sini. Balas *KODE <6 angka>* dalam 10 menit untuk melanjutkan.",
		"otp_message":       "Kode verifikasi PeduliLindungi: {code}. Kode ini diminta untuk melihat data vaksinasi Anda dari nomor WhatsApp lain dan berlaku 10 menit. Jangan berikan kode ini kepada siapa pun bila Anda tidak memintanya.",
		"otp_wrong":         "Kode tidak cocok atau sudah tidak berlaku. Silakan ulangi permintaan dari menu.",
		"no_phone":          "Data vaksinasi Bapak/Ibu belum memiliki nomor WhatsApp terdaftar, sehingga kami tidak dapat mengirimkannya di sini. Laporan Bapak/Ibu sudah kami catat dengan nomor *{ticket}*; petugas akan membantu.",
		"status":            "Status vaksinasi atas nama *{name}*:\n{doses}",
		"status_none":       "Belum ada dosis vaksin yang tercatat atas nama *{name}*. Bila Bapak/Ibu sudah divaksin, balas *MENU* lalu pilih *1* untuk melapor.",
		"dose_line":         "• Dosis {n}: {date}, {vaccine}, {place}",
		"certificate":       "Berikut sertifikat vaksinasi atas nama *{name}*. Keaslian kode QR di dalamnya dapat diperiksa di {verify}.",
		"missing_filed":     "Data dosis vaksin Bapak/Ibu belum tercatat di sistem. Laporan sudah kami teruskan kepada petugas dengan nomor *{ticket}*, bersama hasil pemeriksaan kami.",
		"cert_none":         "Belum ada dosis vaksin yang tercatat atas nama *{name}*, sehingga sertifikat belum dapat diterbitkan. Bila Bapak/Ibu sudah divaksin, balas *MENU* lalu pilih *1* untuk melapor.",
	},
	"en": {
		"checking":          "Thank you. We are checking your vaccination record with the Ministry of Health's system. Please wait a moment.",
		"not_found":         "We are sorry, we found no record with that NIK and date of birth. Please check both against your ID card or family card. Attempts left: {left}.",
		"locked":            "To protect personal data, we have paused look-ups from this number after too many attempts that did not match. If you need help, reply *MENU* and choose *4* to talk to an officer.",
		"unavailable":       "We are sorry, the vaccination records system cannot be reached at the moment. Please try again a little later. Your message has been kept.",
		"unavailable_filed": "We are sorry, the vaccination records system cannot be reached at the moment. Your report has been recorded as *{ticket}* and an officer will follow it up.",
		"otp_sent":          "This WhatsApp number differs from the one registered on the vaccination record. We have sent a 6-digit code to the number registered on that record. To protect personal data, we do not name that number here. Reply *CODE <6 digits>* within 10 minutes to continue.",
		"otp_message":       "PeduliLindungi verification code: {code}. It was requested to view your vaccination record from another WhatsApp number and is valid for 10 minutes. Do not give it to anyone if you did not ask for it.",
		"otp_wrong":         "The code does not match or has expired. Please make the request again from the menu.",
		"no_phone":          "Your vaccination record has no registered WhatsApp number, so we cannot send it here. Your report has been recorded as *{ticket}*; an officer will help you.",
		"status":            "Vaccination status for *{name}*:\n{doses}",
		"status_none":       "No vaccine dose is recorded for *{name}* yet. If you have been vaccinated, reply *MENU* and choose *1* to report it.",
		"dose_line":         "• Dose {n}: {date}, {vaccine}, {place}",
		"certificate":       "Here is the vaccination certificate for *{name}*. Anyone can check the QR code inside at {verify}.",
		"missing_filed":     "Your vaccine dose is not recorded in the system yet. Your report has been passed to an officer as *{ticket}*, together with what we found.",
		"cert_none":         "No vaccine dose is recorded for *{name}* yet, so no certificate can be issued. If you have been vaccinated, reply *MENU* and choose *1* to report it.",
	},
}

// T returns the text key in lang (Indonesian when lang is not English)
// with {placeholders} filled.
func T(lang, key string, args map[string]string) string {
	if lang != "en" {
		lang = "id"
	}
	s := texts[lang][key]
	for k, v := range args {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

var bulanID = [...]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}
var monthEN = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
