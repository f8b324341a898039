package intent

// A rule names the concepts that must all be present for an intent, and a
// weight. The heaviest matching rule decides; on a tie the rule listed first
// wins, so more harmful mistakes (deleting data, misusing a NIK) are listed
// before milder ones. Weights: 30+ a specific complaint, 20-29 a clear topic,
// 10-19 a weak or social signal.
type rule struct {
	intent   string
	concepts []int
	weight   int
}

var rules = []rule{
	{DeleteMyData, []int{cDelete, cData}, 40},
	{DeleteMyData, []int{cDelete, cAccount}, 38},
	{DeleteMyData, []int{cDelete, cPersonal}, 38},

	{NIKMisuse, []int{cNik, cUsed}, 34},
	{NIKMisuse, []int{cNik, cOtherPerson}, 34},
	{NIKMisuse, []int{cNik, cPerson, cUsed}, 35},

	{Sijejak, []int{cSijejak}, 32},
	{Sijejak, []int{cCloseContact}, 30},

	{CertificateMissing, []int{cCert, cNeg, cAppear}, 31},
	{CertificateMissing, []int{cCert, cNeg, cAda}, 30},
	{CertificateMissing, []int{cCert, cLost}, 30},
	{CertificateMissing, []int{cVax, cNeg, cCert}, 24},
	{CertificateMissing, []int{cCert, cAppear, cWhy}, 24},
	{CertificateMissing, []int{cVax, cNeg, cAda}, 21},
	{CertificateMissing, []int{cVax, cNeg, cAppear}, 21},

	{ChangeData, []int{cChange, cName}, 28},
	{ChangeData, []int{cWrong, cName}, 28},
	{ChangeData, []int{cChange, cDob}, 28},
	{ChangeData, []int{cWrong, cDob}, 28},
	{ChangeData, []int{cChange, cPhone}, 28},
	{ChangeData, []int{cPhone, cNeg, cActive}, 28},
	{ChangeData, []int{cPhone, cLost}, 26},
	{ChangeData, []int{cPhone, cWrong}, 26},
	{ChangeData, []int{cDelete, cPhone}, 26},
	{ChangeData, []int{cChange, cData}, 27},
	{ChangeData, []int{cWrong, cData}, 27},
	{ChangeData, []int{cWrong, cNik}, 24},

	{CertificateDownload, []int{cCert, cDownload}, 27},
	{CertificateDownload, []int{cCert, cHold}, 22},
	{CertificateDownload, []int{cCert, cHow}, 22},
	{CertificateDownload, []int{cCert, cWhere}, 22},
	{CertificateDownload, []int{cVax, cDownload}, 20},
	{CertificateDownload, []int{cDownload, cHow}, 18},

	{VaccinationStatus, []int{cStatus, cVax}, 26},
	{VaccinationStatus, []int{cCheck, cVax}, 22},
	{VaccinationStatus, []int{cCount, cVax}, 22},
	{VaccinationStatus, []int{cStatus}, 14},

	{LoginProblem, []int{cLogin, cNeg}, 26},
	{LoginProblem, []int{cLogin, cFail}, 26},
	{LoginProblem, []int{cForgot, cPassword}, 26},
	{LoginProblem, []int{cAccount, cNeg, cOpen}, 26},
	{LoginProblem, []int{cApp, cNeg, cOpen}, 26},
	{LoginProblem, []int{cOtp}, 22},
	{LoginProblem, []int{cApp, cFail}, 22},
	{LoginProblem, []int{cAccount, cFail}, 22},
	{LoginProblem, []int{cPassword}, 18},
	{LoginProblem, []int{cLogin}, 12},

	{TalkToOperator, []int{cTalk, cOperator}, 33},
	{TalkToOperator, []int{cTalk, cAdmin}, 30},
	{TalkToOperator, []int{cTalk, cHuman}, 30},
	{TalkToOperator, []int{cTalk, cPerson}, 28},
	{TalkToOperator, []int{cOperator}, 20},
	{TalkToOperator, []int{cHuman}, 18},

	{MyData, []int{cCopy, cData}, 29},
	{MyData, []int{cData, cHold}, 27},
	{MyData, []int{cData, cPersonal}, 24},
	{MyData, []int{cData, cMe}, 16},

	{SwitchLanguage, []int{cLang, cChange}, 26},
	{SwitchLanguage, []int{cEnglish}, 25},
	{SwitchLanguage, []int{cIndonesian, cLang}, 25},
	{SwitchLanguage, []int{cLang}, 15},
	{SwitchLanguage, []int{cIndonesian}, 13},

	{Menu, []int{cBack, cMenu}, 36},
	{Menu, []int{cBack, cStart}, 30},
	{Menu, []int{cMenu}, 21},
	{Menu, []int{cBack}, 14},
	{Menu, []int{cStart}, 12},

	{Done, []int{cClose, cTicket}, 26},
	{Done, []int{cDone}, 20},
	{Done, []int{cEnough}, 17},

	{Thanks, []int{cThanks}, 15},

	{Greeting, []int{cGreet}, 10},
}
