#!/usr/bin/env bash
# Fails when the checked-in deepcopy code or CRDs differ from what
# `make generate` produces from the API types now.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT

# Generate into a copy so that a check never rewrites the working tree.
mkdir -p "${scratch}/tree"
cp -r go.mod go.sum api hack config "${scratch}/tree/"
(
	cd "${scratch}/tree"
	go tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	rm -rf config/crd/bases
	go tool controller-gen crd:crdVersions=v1 paths=./api/... output:crd:artifacts:config=config/crd/bases
)

stale=0
for dir in api config/crd/bases; do
	if ! diff -r "${dir}" "${scratch}/tree/${dir}" >"${scratch}/diff" 2>&1; then
		echo "generated files under ${dir} are stale:" >&2
		cat "${scratch}/diff" >&2
		stale=1
	fi
done
if [[ "${stale}" -ne 0 ]]; then
	echo "run 'make generate' and commit the result" >&2
	exit 1
fi
echo "generated files are up to date"
