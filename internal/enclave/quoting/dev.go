package quoting

import (
	"errors"
	"fmt"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/devpki"
	"github.com/tcs-project/tcs/internal/enclave/token"
)

// Dev is the development quoting backend. Its quotes are genuine v3
// quotes, signed by the development attestation key under the development
// PCK chain of Authority, for the development enclave identity of package
// devpki (devpki.DevMREnclave, devpki.DevMRSigner, ISVPRODID
// devpki.DevISVProdID, ISVSVN devpki.DevISVSVN). A verifier accepts them
// only when Authority.Root() is among its trusted roots.
type Dev struct {
	// Authority signs the quotes; Authority.Collateral makes the matching
	// collateral.
	Authority *devpki.Authority
	// Options change the quotes, for example the enclave identity.
	Options []devpki.QuoteOption
}

// Quote builds a quote whose report data binds key's public key and a
// fresh nonce.
func (d *Dev) Quote(key *token.QuoteKey) (*Result, error) {
	if d.Authority == nil {
		return nil, errors.New("dev quoting backend: the development authority is missing")
	}
	if key == nil || key.Public == nil {
		return nil, errors.New("dev quoting backend: the quote key is missing")
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, fmt.Errorf("dev quoting backend: %w", err)
	}
	quote, err := d.Authority.Quote(devpki.ReportDataForRSAKey(key.Public, nonce), d.Options...)
	if err != nil {
		return nil, fmt.Errorf("dev quoting backend: build the quote for quote key %q: %w",
			key.Name, err)
	}
	return &Result{Quote: quote, PublicKey: key.Public, Nonce: nonce}, nil
}

// Collateral returns the TCB Info, QE Identity and CRLs, issued shortly
// before at, under which the verifier accepts this backend's quotes when it
// trusts Authority.Root().
func (d *Dev) Collateral(at time.Time) (*collateral.Bundle, error) {
	if d.Authority == nil {
		return nil, errors.New("dev quoting backend: the development authority is missing")
	}
	bundle, err := d.Authority.Collateral(at)
	if err != nil {
		return nil, fmt.Errorf("dev quoting backend: build the collateral: %w", err)
	}
	return bundle, nil
}
