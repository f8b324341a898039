// Package wafake owns a fake WhatsApp server for tests: enough of the
// multi-device protocol that the real whatsmeow client pairs, logs in,
// receives Signal-encrypted messages from fake contacts and sends them
// replies, with no network access to WhatsApp.
//
// What it implements: the Noise XX handshake with its own certificate chain
// (the root is process-wide and set into whatsmeow.WACertPubKey once); QR
// pairing by a fake phone (ScanQR) or by phone code (EnterCode, the
// link_code_companion_reg exchange), the mandatory 515 restart and <success>;
// the post-login exchanges (pre-key count and upload, passive/active,
// keepalive, privacy settings, media_conn); fake contacts (AddContact) with
// real libsignal identities that write pkmsg/msg stanzas by phone number or
// by @lid with sender_pn, serve their pre-key bundles and device lists
// (usync), decrypt what the client sends them, and record it (Received);
// media upload and download with WhatsApp's media encryption; receipts
// (unreceipted messages are redelivered on every login; a retry receipt gets
// the message re-encrypted under a fresh session, as a phone would); faults:
// DropConnections, RestartStreams (515), LogoutAll (<failure reason=401>),
// FailLogins, WithholdAcks, Refuse (a number not on WhatsApp), CorruptNext.
//
// Not implemented: groups, app state, history sync, calls, presence.
//
// Clients reach it through whatsapp.TestServer{Addr, RootKey}, or in a binary
// built with -tags wafake through LINDUNGI_WHATSAPP_TEST_ADDR and
// LINDUNGI_WHATSAPP_TEST_ROOT_KEY.
//
// # Control API (cmd/wafake)
//
// `go run ./channels/whatsapp/wafake/cmd/wafake` prints the WhatsApp address,
// the root key (hex) and the control address, then serves JSON:
//
//	GET  /status                          addr, rootKey, account, waitingForScan, connected, ready, pending, logins
//	POST /pair {"qr":"2@…,…,…,…"}          the fake phone scans the client's QR code
//	POST /pair {"code":"ABCD-EFGH"}       or types the client's phone-pairing code
//	POST /contacts/{phone}/messages       {"text","name","image"(base64),"mimetype","viaLid","hidePn","quotedId"} → {"id","lid"}
//	GET  /contacts/{phone}/received       {"messages":[{"ID","To","Text","Media","MediaType","FileName","QuotedID","Acked","Err","At"}]}
//	POST /faults/drop | restart | logout  drop connections, 515 restart, unlink (401)
//	POST /faults/withhold-acks?on=true|false
//	POST /faults/refuse?phone=62…&on=true|false
//
// A contact is created on its first message. Phones are digits with country
// code, "+" optional.
package wafake
