// Package signing turns certificate signing requests into X.509
// certificates signed by a CA key behind any crypto.Signer.
//
// The CA key normally lives in a PKCS#11 token, so this package never
// handles private key material. It builds the certificate template from a
// PKCS#10 request, checks the CA certificate, and hands the template to
// x509.CreateCertificate with the caller's signer.
//
// No name policy is applied here: which subjects and names a requester may
// have is the calling controller's decision, made before Sign.
//
// What an issued certificate contains:
//   - a serial number of 159 bits from crypto/rand, with the top bit of the
//     159 fixed so that every serial encodes in exactly 20 octets, the
//     maximum of RFC 5280 section 4.1.2.2;
//   - the subject (byte for byte) and the DNS, IP, email and URI subject
//     alternative names of the request; other requested extensions are
//     ignored;
//   - NotBefore at now minus a small backdate for clock skew, and NotAfter
//     at now plus the requested duration, bounded as Config documents and
//     never later than the CA certificate's NotAfter;
//   - basic constraints, key usage and extended key usage from the request;
//   - a subject key identifier computed by RFC 7093 section 2 method 1 and
//     an authority key identifier copied from the CA's subject key
//     identifier.
//
// Errors wrap one of three sentinels so that a controller can decide
// between marking a request failed and retrying: ErrInvalidRequest (the
// request can never be signed), ErrUnusableCA (the CA certificate cannot
// sign it, which an operator must fix) and ErrSigner (the signer failed,
// which may be transient).
package signing
