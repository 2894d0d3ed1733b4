package v1alpha1

// State codes of status.condition.state. The key server sets exactly one
// per answer; the issuer shows it in the TCSIssuer's Ready condition.
const (
	// StateQuoteVerified: the quote verified, every signer was allowed and
	// its Secret written.
	StateQuoteVerified = "QuoteVerified"

	// StateInvalidRequest: the spec could not be decoded, for example a
	// public key that is not a PEM RSA public key.
	StateInvalidRequest = "InvalidRequest"
	// StateMalformedQuote: the quote bytes do not parse as an ECDSA quote.
	StateMalformedQuote = "MalformedQuote"
	// StateUnsupportedQuoteVersion: the quote's version, attestation key
	// type or certification data type is not supported.
	StateUnsupportedQuoteVersion = "UnsupportedQuoteVersion"
	// StateInvalidQuoteSignature: the quote, the QE report or the binding
	// of the attestation key failed its signature check.
	StateInvalidQuoteSignature = "InvalidQuoteSignature"
	// StateUntrustedPCKChain: the PCK certificate chain does not lead to a
	// trusted root.
	StateUntrustedPCKChain = "UntrustedPCKChain"
	// StateRevokedPCKChain: the PCK certificate or its CA is revoked.
	StateRevokedPCKChain = "RevokedPCKChain"
	// StateInvalidCollateral: the DCAP collateral is malformed, wrongly
	// signed, or for another platform.
	StateInvalidCollateral = "InvalidCollateral"
	// StateCollateralExpired: the collateral, a CRL or a certificate is
	// outside its validity at the time of verification.
	StateCollateralExpired = "CollateralExpired"
	// StateQEIdentityMismatch: the quoting enclave does not match Intel's
	// QE Identity.
	StateQEIdentityMismatch = "QEIdentityMismatch"
	// StateNoMatchingTCBLevel: the platform's TCB matches no level of the
	// TCB Info.
	StateNoMatchingTCBLevel = "NoMatchingTCBLevel"
	// StateTCBRevoked: the platform or quoting enclave TCB is revoked.
	StateTCBRevoked = "TCBRevoked"
	// StateTCBStatusNotAccepted: the TCB status is valid but the release
	// policy does not accept it for a signer.
	StateTCBStatusNotAccepted = "TCBStatusNotAccepted"
	// StateDebugEnclave: the enclave runs in debug mode and the policy does
	// not allow debug enclaves.
	StateDebugEnclave = "DebugEnclave"
	// StateEnclaveIdentityNotAllowed: MRENCLAVE, MRSIGNER, ISVPRODID or
	// ISVSVN is not allowed by the policy.
	StateEnclaveIdentityNotAllowed = "EnclaveIdentityNotAllowed"
	// StatePolicyDenied: another rule of the release policy rejected the
	// request, such as a denied advisory ID or collateral that is too old.
	StatePolicyDenied = "PolicyDenied"
	// StatePublicKeyMismatch: the quote's report data does not bind
	// spec.publicKey and spec.nonce.
	StatePublicKeyMismatch = "PublicKeyMismatch"
	// StateUnknownSigner: no key and no policy exist for a signer name.
	StateUnknownSigner = "UnknownSigner"
	// StateReplayedRequest: the public key or the quote was already
	// answered.
	StateReplayedRequest = "ReplayedRequest"
	// StateStaleRequest: the request was created longer ago than the key
	// server accepts.
	StateStaleRequest = "StaleRequest"
	// StateKeyStoreFailure: the key store returned a permanent error for a
	// signer's key or certificate.
	StateKeyStoreFailure = "KeyStoreFailure"
)
