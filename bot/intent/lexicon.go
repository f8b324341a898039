package intent

// Concepts: every word the matcher knows stands for one concept, so that
// Indonesian, English, slang and typos of one idea share the same rules.
const (
	cCert = iota
	cVax
	cNeg
	cAppear
	cAda
	cLost
	cDownload
	cHow
	cWhere
	cStatus
	cCheck
	cCount
	cChange
	cWrong
	cName
	cDob
	cPhone
	cActive
	cData
	cNik
	cUsed
	cOtherPerson
	cPerson
	cLogin
	cOtp
	cApp
	cAccount
	cPassword
	cForgot
	cFail
	cOpen
	cExpired
	cSijejak
	cCloseContact
	cNotif
	cOperator
	cAdmin
	cHuman
	cTalk
	cGreet
	cThanks
	cDone
	cEnough
	cClose
	cTicket
	cEnglish
	cIndonesian
	cLang
	cMe
	cPersonal
	cHold
	cCopy
	cDelete
	cMenu
	cBack
	cStart
	cMain
	cWhy
	cWhat
	cHelp
	numConcepts
)

var conceptNames = [numConcepts]string{
	"CERT", "VAX", "NEG", "APPEAR", "ADA", "LOST", "DOWNLOAD", "HOW", "WHERE", "STATUS", "CHECK", "COUNT",
	"CHANGE", "WRONG", "NAME", "DOB", "PHONE", "ACTIVE", "DATA", "NIK", "USED", "OTHERPERSON", "PERSON",
	"LOGIN", "OTP", "APP", "ACCOUNT", "PASSWORD", "FORGOT", "FAIL", "OPEN", "EXPIRED", "SIJEJAK",
	"CLOSECONTACT", "NOTIF", "OPERATOR", "ADMIN", "HUMAN", "TALK", "GREET", "THANKS", "DONE", "ENOUGH",
	"CLOSE", "TICKET", "ENGLISH", "INDONESIAN", "LANG", "ME", "PERSONAL", "HOLD", "COPY", "DELETE", "MENU",
	"BACK", "START", "MAIN", "WHY", "WHAT", "HELP",
}

// stop marks words that carry no intent; they are dropped before phrases
// are looked for, so "date of birth" is the phrase "date birth".
const stop = -1

// lexicon maps normalised words to concepts.
var lexicon = map[string]int{
	"sertifikat": cCert, "certificate": cCert, "certificates": cCert, "cert": cCert, "certif": cCert, "e-sertifikat": cCert,
	"vaksin": cVax, "vaksinasi": cVax, "vaccine": cVax, "vaccines": cVax, "vaccination": cVax, "vaccinated": cVax,
	"divaksin": cVax, "tervaksin": cVax, "suntik": cVax, "disuntik": cVax, "vax": cVax, "dosis": cVax, "dose": cVax,
	"booster": cVax, "jab": cVax, "imunisasi": cVax,
	"tidak": cNeg, "belum": cNeg, "not": cNeg, "no": cNeg, "never": cNeg, "cannot": cNeg, "cant": cNeg, "unable": cNeg,
	"hasnt": cNeg, "havent": cNeg, "isnt": cNeg, "doesnt": cNeg, "didnt": cNeg, "wont": cNeg, "dont": cNeg, "bukan": cNeg,
	"muncul": cAppear, "keluar": cAppear, "tampil": cAppear, "terbit": cAppear, "appear": cAppear, "appeared": cAppear,
	"appears": cAppear, "showing": cAppear, "show": cAppear, "shows": cAppear, "shown": cAppear, "showed": cAppear,
	"ada": cAda, "available": cAda,
	"hilang": cLost, "missing": cLost, "lost": cLost, "gone": cLost, "kosong": cLost, "empty": cLost, "terhapus": cLost, "kehapus": cLost,
	"unduh": cDownload, "download": cDownload, "didownload": cDownload, "diunduh": cDownload, "mengunduh": cDownload,
	"cetak": cDownload, "mencetak": cDownload, "dicetak": cDownload, "print": cDownload, "save": cDownload, "pdf": cDownload,
	"dapatkan": cDownload, "mendapatkan": cDownload, "dapetin": cDownload, "downloaded": cDownload,
	"cara": cHow, "bagaimana": cHow, "how": cHow, "langkah": cHow, "prosedur": cHow,
	"dimana": cWhere, "where": cWhere, "mana": cWhere,
	"status": cStatus, "riwayat": cStatus, "history": cStatus, "layak": cStatus, "eligible": cStatus,
	"tercatat": cStatus, "terdata": cStatus, "recorded": cStatus, "terinput": cStatus,
	"cek": cCheck, "check": cCheck, "periksa": cCheck, "lihat": cCheck, "liat": cCheck, "see": cCheck, "view": cCheck,
	"ubah": cChange, "mengubah": cChange, "merubah": cChange, "rubah": cChange, "diubah": cChange, "ganti": cChange,
	"mengganti": cChange, "diganti": cChange, "edit": cChange, "koreksi": cChange, "perbaiki": cChange,
	"diperbaiki": cChange, "perbaikan": cChange, "betulkan": cChange, "benerin": cChange, "dibenerin": cChange,
	"benarkan": cChange, "ralat": cChange, "revisi": cChange, "update": cChange, "terupdate": cChange, "diupdate": cChange,
	"change": cChange, "correct": cChange, "correction": cChange, "fix": cChange, "berubah": cChange, "perubahan": cChange,
	"salah": cWrong, "keliru": cWrong, "wrong": cWrong, "incorrect": cWrong, "typo": cWrong, "beda": cWrong,
	"berbeda": cWrong, "different": cWrong, "mistake": cWrong, "kurang": cWrong, "tertukar": cWrong,
	"seharusnya": cWrong, "harusnya": cWrong, "semestinya": cWrong, "misspelled": cWrong, "ejaan": cWrong,
	"nama": cName, "name": cName,
	"lahir": cDob, "birth": cDob, "dob": cDob, "ttl": cDob, "birthday": cDob,
	"hp": cPhone, "telepon": cPhone, "telpon": cPhone, "telp": cPhone, "tlp": cPhone, "phone": cPhone, "wa": cPhone,
	"whatsapp": cPhone, "mobile": cPhone,
	"aktif": cActive, "active": cActive,
	"data": cData, "information": cData, "informasi": cData, "identitas": cData,
	"nik": cNik, "ktp": cNik,
	"dipakai": cUsed, "dipake": cUsed, "pakai": cUsed, "pake": cUsed, "digunakan": cUsed, "menggunakan": cUsed,
	"used": cUsed, "using": cUsed, "terpakai": cUsed, "disalahgunakan": cUsed, "misuse": cUsed,
	"misused": cUsed, "dibajak": cUsed, "terdaftar": cUsed, "registered": cUsed, "didaftarkan": cUsed,
	"someone": cOtherPerson, "somebody": cOtherPerson,
	"orang": cPerson, "person": cPerson,
	"login": cLogin, "masuk": cLogin, "signin": cLogin, "logon": cLogin,
	"otp": cOtp, "verifikasi": cOtp, "verification": cOtp, "sms": cOtp, "kode": cOtp, "code": cOtp,
	"aplikasi": cApp, "app": cApp, "apps": cApp, "application": cApp, "pedulilindungi": cApp, "satusehat": cApp,
	"akun": cAccount, "account": cAccount,
	"password": cPassword, "sandi": cPassword, "pin": cPassword,
	"lupa": cForgot, "forgot": cForgot, "forget": cForgot,
	"gagal": cFail, "error": cFail, "eror": cFail, "failed": cFail, "fail": cFail, "crash": cFail, "force": cFail,
	"bug": cFail, "macet": cFail, "loading": cFail, "blank": cFail,
	"terkunci": cFail, "locked": cFail, "blokir": cFail, "diblokir": cFail, "terblokir": cFail, "blocked": cFail,
	"buka": cOpen, "dibuka": cOpen, "open": cOpen, "membuka": cOpen,
	"kedaluwarsa": cExpired, "expired": cExpired, "expire": cExpired,
	"sijejak": cSijejak, "bluetooth": cSijejak, "paparan": cSijejak, "exposure": cSijejak, "terpapar": cSijejak,
	"exposed": cSijejak, "tracing": cSijejak,
	"notif": cNotif, "notifikasi": cNotif, "notification": cNotif, "pemberitahuan": cNotif,
	"petugas": cOperator, "operator": cOperator, "cs": cOperator, "agent": cOperator, "officer": cOperator,
	"admin":   cAdmin,
	"manusia": cHuman, "human": cHuman,
	"bicara": cTalk, "berbicara": cTalk, "ngomong": cTalk, "ngobrol": cTalk, "chat": cTalk, "hubungi": cTalk,
	"dihubungkan": cTalk, "hubungkan": cTalk, "sambungkan": cTalk, "disambungkan": cTalk, "talk": cTalk,
	"speak": cTalk, "connect": cTalk,
	"halo": cGreet, "hallo": cGreet, "hello": cGreet, "helo": cGreet, "hai": cGreet, "hi": cGreet, "hey": cGreet,
	"hei": cGreet, "pagi": cGreet, "siang": cGreet, "sore": cGreet, "malam": cGreet, "assalamualaikum": cGreet,
	"salam": cGreet, "permisi": cGreet, "selamat": cGreet, "morning": cGreet, "evening": cGreet, "afternoon": cGreet,
	"p": cGreet, "ping": cGreet, "punten": cGreet, "misi": cGreet, "hii": cGreet, "shalom": cGreet, "om": cGreet,
	"thanks": cThanks, "thank": cThanks, "nuhun": cThanks, "suwun": cThanks, "tengkiu": cThanks,
	"selesai": cDone, "done": cDone, "beres": cDone, "finish": cDone, "finished": cDone, "tuntas": cDone,
	"teratasi": cDone, "solved": cDone, "resolved": cDone, "sorted": cDone,
	"cukup": cEnough, "enough": cEnough,
	"tutup": cClose, "close": cClose, "closed": cClose, "ditutup": cClose,
	"tiket": cTicket, "ticket": cTicket, "laporan": cTicket, "report": cTicket, "pengaduan": cTicket, "complaint": cTicket,
	"english": cEnglish, "inggris": cEnglish, "eng": cEnglish,
	"indonesia": cIndonesian, "indo": cIndonesian,
	"bahasa": cLang, "language": cLang,
	"saya": cMe, "my": cMe, "me": cMe, "mine": cMe, "diri": cMe,
	"pribadi": cPersonal, "personal": cPersonal,
	"disimpan": cHold, "simpan": cHold, "menyimpan": cHold, "hold": cHold, "store": cHold, "stored": cHold,
	"keep": cHold, "kept": cHold, "have": cHold, "punya": cHold, "tentang": cHold,
	"salinan": cCopy, "copy": cCopy, "export": cCopy, "ekspor": cCopy,
	"hapus": cDelete, "dihapus": cDelete, "hapuskan": cDelete, "menghapus": cDelete, "delete": cDelete,
	"deleted": cDelete, "remove": cDelete, "erase": cDelete, "hilangkan": cDelete, "deletion": cDelete,
	"menu":    cMenu,
	"kembali": cBack, "balik": cBack, "back": cBack, "return": cBack,
	"awal": cStart, "mulai": cStart, "start": cStart, "ulang": cStart, "restart": cStart,
	"utama": cMain, "main": cMain,
	"kenapa": cWhy, "mengapa": cWhy, "why": cWhy, "kok": cWhy,
	"apa": cWhat, "what": cWhat, "apaan": cWhat, "maksud": cWhat, "maksudnya": cWhat, "arti": cWhat, "artinya": cWhat,
	"meaning": cWhat, "means": cWhat,
	"tolong": cHelp, "bantu": cHelp, "help": cHelp, "bantuan": cHelp, "mohon": cHelp, "please": cHelp, "pls": cHelp,

	"of": stop, "the": stop, "a": stop, "an": stop, "is": stop, "are": stop, "yang": stop, "di": stop, "ke": stop,
	"ini": stop, "itu": stop, "ya": stop, "dong": stop, "deh": stop, "sih": stop, "nih": stop, "nya": stop,
	"mau": stop, "ingin": stop, "pengen": stop, "want": stop, "would": stop, "like": stop, "i": stop, "to": stop,
	"untuk": stop, "dengan": stop, "karena": stop, "tapi": stop, "dan": stop, "atau": stop, "and": stop, "or": stop,
	"do": stop, "you": stop, "can": stop, "bisa": stop, "lagi": stop, "terus": stop, "sudah": stop, "masih": stop,
	"padahal": stop, "kalian": stop, "maaf": stop, "tanya": stop, "juga": stop, "aja": stop, "saja": stop, "anda": stop, "your": stop, "it": stop, "pas": stop, "katanya": stop,
}

// phrases are two-word expressions with one meaning, checked before the
// single words (after stop words are dropped).
var phrases = map[[2]string]int{
	{"terima", "kasih"}: cThanks, {"thank", "you"}: cThanks,
	{"kontak", "erat"}: cCloseContact, {"close", "contact"}: cCloseContact, {"contact", "tracing"}: cSijejak,
	{"si", "jejak"}:   cSijejak,
	{"orang", "lain"}: cOtherPerson, {"someone", "else"}: cOtherPerson, {"another", "person"}: cOtherPerson,
	{"other", "person"}: cOtherPerson, {"somebody", "else"}: cOtherPerson, {"atas", "nama"}: cOtherPerson,
	{"tanggal", "lahir"}: cDob, {"date", "birth"}: cDob, {"tahun", "lahir"}: cDob, {"tempat", "lahir"}: cDob,
	{"nomor", "hp"}: cPhone, {"phone", "number"}: cPhone, {"mobile", "number"}: cPhone, {"nomor", "telepon"}: cPhone,
	{"log", "in"}: cLogin, {"sign", "in"}: cLogin, {"log", "into"}: cLogin,
	{"customer", "service"}: cOperator, {"live", "agent"}: cOperator, {"real", "person"}: cHuman,
	{"main", "menu"}: cMenu, {"menu", "utama"}: cMenu,
	{"bahasa", "inggris"}: cEnglish, {"bahasa", "indonesia"}: cIndonesian,
	{"thats", "all"}: cDone, {"that", "all"}: cDone, {"all", "good"}: cDone,
	{"id", "number"}: cNik, {"nomor", "induk"}: cNik, {"nomor", "nik"}: cNik, {"nomor", "ktp"}: cNik,
	{"about", "me"}: cHold, {"peduli", "lindungi"}: cApp, {"satu", "sehat"}: cApp,
	{"berapa", "kali"}: cCount, {"how", "many"}: cCount,
	{"salah", "ketik"}: cWrong, {"tidak", "sesuai"}: cWrong, {"tidak", "cocok"}: cWrong,
}

// known reports whether w is a word the matcher or the normaliser knows.
func known(w string) bool {
	if _, ok := lexicon[w]; ok {
		return true
	}
	_, ok := abbreviations[w]
	return ok
}
