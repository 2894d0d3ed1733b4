#!/usr/bin/env bash
# Builds helm and kustomize from source through the Go module proxy into
# bin/, at the versions pinned in the go.mod beside this script. A build is
# skipped when bin/ already has binaries made from the same pins, and a copy
# kept outside the clone serves fresh clones on the same machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
bin="${BIN_DIR:-${root}/bin}"
cache="${TCS_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/tcs-tools}"
mkdir -p "${bin}"

# pin_hash prints a digest of everything that decides what the module builds.
pin_hash() {
	cat "${here}/go.mod" "${here}/go.sum" <(go env GOVERSION GOOS GOARCH) | sha256sum | cut -d' ' -f1
}

# module_version prints the version of a module that go.mod pins.
module_version() {
	(cd "${here}" && go list -m -f '{{.Version}}' "$1")
}

# build NAME PACKAGE [LDFLAGS] builds one binary unless bin/ or the cache
# already has it for the same pins.
build() {
	local name="$1" pkg="$2" ldflags="${3:-}"
	local want stamp="${bin}/.${name}.stamp"
	want="$(pin_hash)"
	if [[ -x "${bin}/${name}" && -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
		echo "tools: ${name} is up to date in ${bin}"
		return
	fi
	local cached="${cache}/${want}/${name}"
	if [[ -x "${cached}" ]]; then
		cp "${cached}" "${bin}/${name}.tmp"
		mv "${bin}/${name}.tmp" "${bin}/${name}"
		echo "${want}" >"${stamp}"
		echo "tools: copied ${name} from the cache ${cache}"
		return
	fi
	echo "tools: building ${name} from ${pkg}"
	local start=${SECONDS}
	(cd "${here}" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${bin}/${name}.tmp" "${pkg}")
	mv "${bin}/${name}.tmp" "${bin}/${name}"
	echo "${want}" >"${stamp}"
	echo "tools: built ${name} in $((SECONDS - start))s"
	if mkdir -p "${cache}/${want}" && cp "${bin}/${name}" "${cached}.tmp" && mv "${cached}.tmp" "${cached}"; then
		echo "tools: cached ${name} in ${cache}"
	else
		echo "tools: could not cache ${name} in ${cache}; the next fresh clone rebuilds it" >&2
	fi
}

# helm reports only its minor version ("v4.3") unless the full one is set
# at link time; kustomize finds its own in the build information.
build helm helm.sh/helm/v4/cmd/helm \
	"-X helm.sh/helm/v4/internal/version.version=$(module_version helm.sh/helm/v4)"
build kustomize sigs.k8s.io/kustomize/kustomize/v5
