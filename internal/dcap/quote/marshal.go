package quote

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Marshal encodes q in the binary quote format. For a quote that Parse
// returned, the output equals the parsed input. It reads the fields, not
// Raw, so a caller can change a field and re-encode.
func (q *Quote) Marshal() ([]byte, error) {
	s := &q.Signature
	if len(s.QEAuthData) > math.MaxUint16 {
		return nil, fmt.Errorf("QE authentication data is %d bytes, more than the %d a quote can carry",
			len(s.QEAuthData), math.MaxUint16)
	}
	sigLen := uint64(sigDataFixedSize + sizeQEAuthDataLen + len(s.QEAuthData) +
		sizeCertDataType + sizeCertDataLen + len(s.CertData))
	if sigLen > math.MaxUint32 {
		return nil, fmt.Errorf("signature data is %d bytes, more than the %d a quote can carry",
			sigLen, uint32(math.MaxUint32))
	}

	out := make([]byte, 0, MinSize+int(sigLen))
	out = q.Header.append(out)
	out = q.Body.Append(out)
	out = binary.LittleEndian.AppendUint32(out, uint32(sigLen))
	out = append(out, s.QuoteSignature[:]...)
	out = append(out, s.AttestationKey[:]...)
	out = s.QEReport.Append(out)
	out = append(out, s.QEReportSignature[:]...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(s.QEAuthData)))
	out = append(out, s.QEAuthData...)
	out = binary.LittleEndian.AppendUint16(out, s.CertType)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(s.CertData)))
	out = append(out, s.CertData...)
	return out, nil
}

func (h *Header) append(out []byte) []byte {
	out = binary.LittleEndian.AppendUint16(out, h.Version)
	out = binary.LittleEndian.AppendUint16(out, h.AttestationKeyType)
	out = binary.LittleEndian.AppendUint32(out, h.TEEType)
	out = binary.LittleEndian.AppendUint16(out, h.QESVN)
	out = binary.LittleEndian.AppendUint16(out, h.PCESVN)
	out = append(out, h.QEVendorID[:]...)
	return append(out, h.UserData[:]...)
}

// Append appends the 384-byte encoding of r to out.
func (r *ReportBody) Append(out []byte) []byte {
	out = append(out, r.CPUSVN[:]...)
	out = binary.LittleEndian.AppendUint32(out, r.MiscSelect)
	out = append(out, r.Reserved1[:]...)
	out = append(out, r.Attributes[:]...)
	out = append(out, r.MREnclave[:]...)
	out = append(out, r.Reserved2[:]...)
	out = append(out, r.MRSigner[:]...)
	out = append(out, r.Reserved3[:]...)
	out = binary.LittleEndian.AppendUint16(out, r.ISVProdID)
	out = binary.LittleEndian.AppendUint16(out, r.ISVSVN)
	out = append(out, r.Reserved4[:]...)
	return append(out, r.ReportData[:]...)
}

// Debug reports whether the DEBUG flag (bit 1 of the attributes' flags)
// is set: a debugger can read such an enclave's memory.
func (r *ReportBody) Debug() bool {
	const debugFlag = 0x02
	return r.Attributes[0]&debugFlag != 0
}
