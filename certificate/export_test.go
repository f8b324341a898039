package certificate

// Base45Encode lets the external tests craft QR strings of any shape, as
// anyone pasting into /verify can.
var Base45Encode = base45Encode
