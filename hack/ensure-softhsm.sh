#!/usr/bin/env bash
# Makes sure SoftHSM2, the PKCS#11 token that stands in for the SGX enclave
# in tests and the demo, is installed. As root it installs the Debian
# package; otherwise it prints the command to run and fails.
set -euo pipefail

module="${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
if [[ -f "${module}" ]] && command -v softhsm2-util >/dev/null; then
	echo "softhsm: ${module} is installed"
	exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
	echo "softhsm: ${module} is missing; install it with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y softhsm2" >&2
	exit 1
fi

echo "softhsm: installing the Debian package softhsm2"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y softhsm2
if [[ ! -f "${module}" ]]; then
	echo "softhsm: softhsm2 installed but ${module} is still missing; set SOFTHSM2_MODULE" >&2
	exit 1
fi
