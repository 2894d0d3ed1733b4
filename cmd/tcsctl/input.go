package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
)

// Size limits of input files. A v3 quote with its PCK chain is about
// 5 KiB, and the API admits at most 65,538 bytes. Collateral bundles are
// some tens of KiB. The limits stop a wrong path, such as /dev/zero or a
// disk image, from being read without end.
const (
	maxQuoteFileBytes      = 1 << 20
	maxCollateralFileBytes = 8 << 20
	maxPEMFileBytes        = 1 << 20
)

// readInputFile reads a regular file of at most limit bytes.
func readInputFile(path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %s)", path, info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes, more than any valid input", path, limit)
	}
	return data, nil
}

// checkSinglePEM fails when data has more than one PEM block, or text
// after the blocks, so that a second key or stray text is not silently
// ignored. An "EC PARAMETERS" block, which `openssl ecparam -genkey`
// writes before the key, does not count.
func checkSinglePEM(data []byte) error {
	var types []string
	rest := data
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = next
		if block.Type != "EC PARAMETERS" {
			types = append(types, block.Type)
		}
	}
	if len(types) > 1 {
		return fmt.Errorf("the file has %d PEM blocks (%v), want one; keep one", len(types), types)
	}
	if len(types) == 1 && len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("%d bytes of other text follow the PEM block; remove them", len(bytes.TrimSpace(rest)))
	}
	return nil
}
