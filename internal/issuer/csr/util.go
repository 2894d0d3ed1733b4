package csr

import (
	"encoding/pem"

	"sigs.k8s.io/controller-runtime/pkg/controller"
)

func pemCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func ctrlOptions(workers int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: workers}
}
