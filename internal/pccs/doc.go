// Package pccs fetches, caches and serves Intel SGX DCAP collateral through
// the HTTP API of Intel's Provisioning Certification Service (PCS) version 4
// and of the Provisioning Certificate Caching Service (PCCS) that mirrors it.
//
// A Client reads TCB Info, QE Identity, the PCK CRLs and the root CA CRL and
// assembles a collateral.Bundle. A Cache in front of any Source keeps
// bundles in memory until shortly before their earliest nextUpdate. A
// DirSource reads offline bundles from files. NewHandler serves bundles on
// the same paths and headers the Client reads, for development and tests.
//
// Nothing here verifies signatures: the verifier does that over the exact
// bytes this package preserves.
package pccs

import "errors"

// Sentinel errors. Callers use errors.Is to separate transient failures
// (retry later) from permanent ones (stop).
var (
	// ErrUnavailable marks a transient failure: the network failed, the
	// request timed out, or the service returned 408, 429 or 5xx. Retry
	// with backoff.
	ErrUnavailable = errors.New("collateral service unavailable")

	// ErrNotFound marks a permanent failure because the collateral does not
	// exist, such as HTTP 404 for an FMSPC the service does not know.
	ErrNotFound = errors.New("collateral not found")

	// ErrRejected marks a request that the service refused with a 4xx
	// status other than 404, 408 and 429, such as 400 for a bad parameter.
	ErrRejected = errors.New("collateral request rejected")

	// ErrInvalidResponse marks a response with an unexpected status or a
	// body or header that does not have the documented form.
	ErrInvalidResponse = errors.New("invalid collateral response")

	// ErrInvalidBundle marks a bundle whose contents cannot be read: TCB
	// Info or QE Identity without valid dates, or a CRL that does not parse.
	ErrInvalidBundle = errors.New("invalid collateral bundle")
)
