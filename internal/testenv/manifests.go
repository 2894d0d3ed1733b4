package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// ApplyKustomization creates, as the administrator, every object of the
// files that dir's kustomization.yaml lists, in its order. Objects that
// exist already are left as they are.
func (e *Env) ApplyKustomization(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &kustomization); err != nil {
		return fmt.Errorf("parse %s/kustomization.yaml: %w", dir, err)
	}
	for _, resource := range kustomization.Resources {
		if err := e.applyFile(filepath.Join(dir, resource)); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) applyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		err := e.Client.Create(context.Background(), obj)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s from %s: %w", obj.GetKind(), obj.GetName(), path, err)
		}
	}
}

// ServiceAccountConfig returns a connection that impersonates a service
// account with the groups the API server gives service accounts, so that
// code runs with exactly the RBAC rules that apply to that account.
func (e *Env) ServiceAccountConfig(namespace, name string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name),
		Groups: []string{
			"system:serviceaccounts",
			"system:serviceaccounts:" + namespace,
			"system:authenticated",
		},
	}
	return cfg
}
