package apitest

import (
	"fmt"
	"os"
	"testing"

	"github.com/tcs-project/tcs/internal/testenv"
)

// env is the control plane that every test in this package shares.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.New(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop control plane: %v\n", err)
	}
	os.Exit(code)
}
