package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
	"github.com/tcs-project/tcs/internal/dcap/pck"
	"github.com/tcs-project/tcs/internal/dcap/quote"
	"github.com/tcs-project/tcs/internal/dcap/verify"
)

// Exit statuses of tcsctl quote.
const (
	exitQuoteRejected = 1
	exitUsage         = 2
)

func init() {
	quoteCmd := &cobra.Command{
		Use:   "quote",
		Short: "Inspect and verify Intel SGX ECDSA quotes (version 3)",
	}
	quoteCmd.AddCommand(newQuoteInspectCmd(), newQuoteVerifyCmd())
	rootCmd.AddCommand(quoteCmd)
}

func newQuoteInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE...",
		Short: "Print the fields of quotes (raw binary, base64 or hex files)",
		Long: `Print the fields of each quote: header, enclave report body, QE report,
certification data and the PCK certificate's SGX extension. Nothing is
verified. A file may hold the raw quote, or its base64 or hex text.

Exit status: 0 when every file parsed, 2 when one did not.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, path := range args {
				if err := inspectQuoteFile(cmd.OutOrStdout(), path); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", path, err)
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("%d of %d quote files did not parse", failed, len(args))}
			}
			return nil
		},
	}
}

type quoteVerifyOptions struct {
	collateralPath string
	at             string
	jsonOutput     bool
	trustRoots     []string
	repeat         int
}

func newQuoteVerifyCmd() *cobra.Command {
	var opts quoteVerifyOptions
	cmd := &cobra.Command{
		Use:   "verify --collateral FILE [--at TIME] [--json] [--trust-root PEMFILE] QUOTE...",
		Short: "Verify quotes against DCAP collateral at a given time",
		Long: `Verify each quote separately against the collateral: PCK chain to the
Intel SGX Root CA, CRLs, QE report, quote signature, TCB Info and QE
Identity, and the merged TCB status with its advisory IDs. The collateral
file is the JSON form of dcap-qvl (tcb_info, tcb_info_signature,
tcb_info_issuer_chain, qe_identity, qe_identity_signature,
qe_identity_issuer_chain, pck_crl, pck_crl_issuer_chain, root_ca_crl).

A quote whose TCB status is Revoked is rejected; every other status is
reported and counts as verified, because accepting a status is a policy
decision.

Exit status:
  0  every quote verified
  1  at least one quote was rejected
  2  usage or input error: bad flags, unreadable collateral, trust root
     or quote file`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuoteVerify(cmd.OutOrStdout(), opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.collateralPath, "collateral", "", "collateral JSON file (dcap-qvl form), required")
	f.StringVar(&opts.at, "at", "", "verification time, Unix seconds or RFC 3339 (default now)")
	f.BoolVar(&opts.jsonOutput, "json", false, "print one JSON object per quote per line")
	f.StringArrayVar(&opts.trustRoots, "trust-root", nil,
		"PEM file of a development root CA to trust besides the Intel SGX Root CA (repeatable)")
	f.IntVar(&opts.repeat, "repeat", 1,
		"verify each quote this many times and print its result once, for benchmarks")
	return cmd
}

// quoteVerdict is the JSON line printed per quote.
type quoteVerdict struct {
	File                 string   `json:"file"`
	Verified             bool     `json:"verified"`
	Status               string   `json:"status"`
	AdvisoryIDs          []string `json:"advisoryIds"`
	Error                string   `json:"error"`
	Step                 string   `json:"step"`
	MREnclave            string   `json:"mrenclave,omitempty"`
	MRSigner             string   `json:"mrsigner,omitempty"`
	ISVProdID            uint16   `json:"isvProdId"`
	ISVSVN               uint16   `json:"isvSvn"`
	Debug                bool     `json:"debug"`
	ReportData           string   `json:"reportData,omitempty"`
	FMSPC                string   `json:"fmspc,omitempty"`
	CAType               string   `json:"caType,omitempty"`
	TrustedRoot          string   `json:"trustedRoot,omitempty"`
	DevelopmentRoot      bool     `json:"developmentRoot"`
	CollateralIssueDate  string   `json:"collateralIssueDate,omitempty"`
	CollateralNextUpdate string   `json:"collateralNextUpdate,omitempty"`
}

func runQuoteVerify(out io.Writer, opts quoteVerifyOptions, files []string) error {
	if opts.collateralPath == "" {
		return &exitError{code: exitUsage, err: errors.New("--collateral is required: name the collateral JSON file")}
	}
	if opts.repeat < 1 {
		return &exitError{code: exitUsage, err: fmt.Errorf("--repeat %d is invalid: give 1 or more", opts.repeat)}
	}
	at, err := parseVerifyTime(opts.at)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	data, err := readInputFile(opts.collateralPath, maxCollateralFileBytes)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("read collateral: %w", err)}
	}
	bundle, err := collateral.ParseBundleJSON(data)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("collateral %s: %w", opts.collateralPath, err)}
	}
	var roots []*x509.Certificate
	for _, path := range opts.trustRoots {
		certs, err := readPEMCertificates(path)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		roots = append(roots, certs...)
	}

	v := verify.New(verify.Config{ExtraRoots: roots})
	inputErrors, rejected := 0, 0
	for _, path := range files {
		verdict := quoteVerdict{File: path, AdvisoryIDs: []string{}}
		raw, err := readQuoteFile(path)
		if err != nil {
			inputErrors++
			verdict.Error, verdict.Step = err.Error(), "input"
		} else {
			var result *verify.Result
			for range opts.repeat {
				result, err = v.Verify(raw, bundle, at)
			}
			fillVerdict(&verdict, result, err)
			if !verdict.Verified {
				rejected++
			}
		}
		if err := printVerdict(out, verdict, opts.jsonOutput); err != nil {
			return err
		}
	}

	switch {
	case inputErrors > 0:
		return &exitError{code: exitUsage, err: fmt.Errorf("%d of %d quote files could not be read", inputErrors, len(files))}
	case rejected > 0:
		return &exitError{code: exitQuoteRejected, err: fmt.Errorf("%d of %d quotes were rejected", rejected, len(files))}
	}
	return nil
}

// parseVerifyTime reads --at: empty for now, Unix seconds or RFC 3339.
func parseVerifyTime(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	if unix, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(unix, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q is neither Unix seconds nor an RFC 3339 time such as 2025-06-20T06:13:20Z", s)
	}
	return t, nil
}

func fillVerdict(v *quoteVerdict, r *verify.Result, err error) {
	v.Verified = r.Verified
	v.Status = r.TCBStatus
	if r.AdvisoryIDs != nil {
		v.AdvisoryIDs = r.AdvisoryIDs
	}
	if err != nil {
		v.Error = err.Error()
	}
	v.Step = string(r.Step)
	e := r.Enclave
	if e.MREnclave != [32]byte{} || e.MRSigner != [32]byte{} {
		v.MREnclave, v.MRSigner = hex.EncodeToString(e.MREnclave[:]), hex.EncodeToString(e.MRSigner[:])
		v.ReportData = hex.EncodeToString(e.ReportData[:])
	}
	v.ISVProdID, v.ISVSVN, v.Debug = e.ISVProdID, e.ISVSVN, e.Debug
	if r.CAType != "" {
		v.FMSPC, v.CAType = hex.EncodeToString(r.FMSPC[:]), r.CAType
		v.TrustedRoot, v.DevelopmentRoot = r.TrustedRoot, r.DevelopmentRoot
	}
	if !r.CollateralNextUpdate.IsZero() {
		v.CollateralIssueDate = r.CollateralIssueDate.UTC().Format(time.RFC3339)
		v.CollateralNextUpdate = r.CollateralNextUpdate.UTC().Format(time.RFC3339)
	}
}

func printVerdict(out io.Writer, v quoteVerdict, asJSON bool) error {
	if asJSON {
		line, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", line)
		return err
	}
	if !v.Verified {
		_, err := fmt.Fprintf(out, "%s: rejected at step %s: %s\n", v.File, v.Step, v.Error)
		return err
	}
	dev := ""
	if v.DevelopmentRoot {
		dev = " (development root)"
	}
	_, err := fmt.Fprintf(out, "%s: verified, TCB status %s, advisories [%s]\n"+
		"  MRENCLAVE %s\n  MRSIGNER  %s\n  ISVPRODID %d  ISVSVN %d  debug %v\n"+
		"  FMSPC %s  CA %s  root %s%s\n  collateral valid %s to %s\n",
		v.File, v.Status, strings.Join(v.AdvisoryIDs, ", "),
		v.MREnclave, v.MRSigner, v.ISVProdID, v.ISVSVN, v.Debug,
		v.FMSPC, v.CAType, v.TrustedRoot, dev, v.CollateralIssueDate, v.CollateralNextUpdate)
	return err
}

// readQuoteFile reads a quote as raw bytes, or decodes it from base64 or
// hex text. Raw is tried first: a raw v3 quote starts with bytes 03 00,
// which are not text.
func readQuoteFile(path string) ([]byte, error) {
	data, err := readInputFile(path, maxQuoteFileBytes)
	if err != nil {
		return nil, err
	}
	if len(data) >= 2 && data[0] == quote.Version3 && data[1] == 0 {
		return data, nil
	}
	text := strings.Join(strings.Fields(string(data)), "")
	text = strings.TrimPrefix(text, "0x")
	if b, err := hex.DecodeString(text); err == nil && len(b) > 0 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return data, nil
}

func readPEMCertificates(path string) ([]*x509.Certificate, error) {
	data, err := readInputFile(path, maxPEMFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read trust root: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("trust root %s: %w", path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("trust root %s contains no PEM certificate: give a PEM file of the root CA", path)
	}
	return certs, nil
}

func inspectQuoteFile(out io.Writer, path string) error {
	raw, err := readQuoteFile(path)
	if err != nil {
		return err
	}
	q, err := quote.Parse(raw)
	if err != nil {
		return err
	}
	h, s := &q.Header, &q.Signature
	w := &bytes.Buffer{}
	fmt.Fprintf(w, "%s: SGX ECDSA quote, %d bytes\n", path, len(raw))
	fmt.Fprintf(w, "header:\n  version %d  attestation key type %d  TEE type %#x\n", h.Version, h.AttestationKeyType, h.TEEType)
	fmt.Fprintf(w, "  QE SVN %d  PCE SVN %d\n  QE vendor ID %x", h.QESVN, h.PCESVN, h.QEVendorID)
	if h.QEVendorID == quote.IntelQEVendorID {
		fmt.Fprint(w, " (Intel)")
	}
	fmt.Fprintf(w, "\n  user data %x\n", h.UserData)
	writeReportBody(w, "enclave report body", &q.Body)
	fmt.Fprintf(w, "signature data:\n  quote signature %x\n  attestation key %x\n", s.QuoteSignature, s.AttestationKey)
	writeReportBody(w, "QE report", &s.QEReport)
	fmt.Fprintf(w, "  QE report signature %x\n  QE auth data (%d bytes) %x\n", s.QEReportSignature, len(s.QEAuthData), s.QEAuthData)
	fmt.Fprintf(w, "certification data: type %d (PCK certificate chain), %d bytes\n", s.CertType, len(s.CertData))
	writeCertChain(w, s.CertData)
	_, err = out.Write(w.Bytes())
	return err
}

func writeReportBody(w io.Writer, title string, r *quote.ReportBody) {
	fmt.Fprintf(w, "%s:\n  CPUSVN %x  MISCSELECT %08x\n  attributes %x (debug %v)\n", title, r.CPUSVN, r.MiscSelect, r.Attributes, r.Debug())
	fmt.Fprintf(w, "  MRENCLAVE %x\n  MRSIGNER  %x\n  ISVPRODID %d  ISVSVN %d\n  report data %x\n",
		r.MREnclave, r.MRSigner, r.ISVProdID, r.ISVSVN, r.ReportData)
}

func writeCertChain(w io.Writer, data []byte) {
	rest := data
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			fmt.Fprintf(w, "  certificate %d: does not parse: %v\n", i, err)
			continue
		}
		fmt.Fprintf(w, "  certificate %d: %q issued by %q, valid %s to %s\n", i, cert.Subject.CommonName, cert.Issuer.CommonName,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		if cert.IsCA {
			continue
		}
		ext, err := pck.FromCertificate(cert)
		if err != nil {
			fmt.Fprintf(w, "    %v\n", err)
			continue
		}
		fmt.Fprintf(w, "    FMSPC %x  PCE ID %x  PCESVN %d  SGX type %d\n    TCB components %x  CPUSVN %x\n",
			ext.FMSPC, ext.PCEID, ext.PCESVN, ext.SGXType, ext.Components, ext.CPUSVN)
	}
}
