// Package policy is the key server's release policy: which enclaves, on
// which platforms, may receive the CA key of which signer.
//
// A policy is a YAML file with a list of rules. A rule applies to the
// signer names that match one of its signers patterns, and the first rule
// in file order whose pattern matches decides alone: later rules are not
// tried, even when the first one rejects the request. Put specific
// patterns before general ones, as in a firewall.
//
//	# Extra trusted roots for the development quoting backend. Never list
//	# them in production: quotes they anchor come from no SGX platform.
//	developmentRoots:
//	  - dev-root.pem                  # relative to this file
//	rules:
//	  - name: default issuers         # optional, used in messages
//	    signers:                      # required, exact names or * globs
//	      - tcsissuer.tcs.intel.com/default.*
//	      - tcsclusterissuer.tcs.intel.com/ca
//	    mrsigner:                     # SHA-256 of the enclave signing key
//	      - 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
//	    mrenclave: []                 # enclave measurements
//	    isvProdId: 1                  # required when only mrsigner is given
//	    minIsvSvn: 2                  # default 0
//	    allowDebug: false             # default false
//	    tcbStatuses: [UpToDate, SWHardeningNeeded]   # the default
//	    deniedAdvisoryIds: [INTEL-SA-00615]
//	    maxCollateralAge: 720h        # Go duration, default no limit
//
// Fields of a rule:
//   - signers: at least one pattern. A pattern is an exact signer name or
//     a glob in which each * matches any run of characters, "/" and "."
//     included. No other character is special.
//   - mrsigner, mrenclave: lists of 64 hex digits. A rule needs at least one
//     entry in one of them. When both are given the enclave must match an
//     entry of each.
//   - isvProdId: the ISVPRODID the enclave must have, 0 to 65535. It is
//     required when the rule lists mrsigner but no mrenclave, because a
//     signing key may sign several products.
//   - minIsvSvn: the lowest ISVSVN accepted, 0 to 65535.
//   - allowDebug: whether debug enclaves are accepted. The host can read
//     and change a debug enclave's memory, so this is for development only.
//   - tcbStatuses: the accepted TCB statuses, among UpToDate,
//     SWHardeningNeeded, ConfigurationNeeded,
//     ConfigurationAndSWHardeningNeeded, OutOfDate and
//     OutOfDateConfigurationNeeded. Revoked can never be accepted and is an
//     error in the file.
//   - deniedAdvisoryIds: Intel security advisory IDs; a platform affected
//     by one of them is rejected whatever its TCB status. IDs compare
//     without regard to case.
//   - maxCollateralAge: the oldest collateral accepted, measured from the
//     latest issue date over the collateral to the evaluation time.
//
// Unknown fields, duplicate fields and values of the wrong type are
// errors that name the line and the field. Parse reports every error in a
// file, not only the first. YAML anchors and aliases may share a list
// between rules, but merge keys (<<) are rejected, because a merged field
// would have no line of its own in the rule.
//
// Evaluate checks the evidence from a verified quote against the rule of
// a signer, in this order, and reports the first failure as a Reason:
// TCBRevoked, UnknownSigner, DebugEnclave, EnclaveNotAllowed (MRSIGNER,
// MRENCLAVE, ISVPRODID, then ISVSVN), TCBStatusNotAccepted, AdvisoryDenied
// and CollateralTooOld.
package policy
