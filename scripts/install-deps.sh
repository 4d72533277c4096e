#!/usr/bin/env bash
# Installs the Debian packages seedgen builds against and tests with. Run as root (CI is root).
#   build:  libisoburn-dev (brings libisofs-dev), libcrypt-dev, pkg-config (HTTP(S) is
#           async-http-client with BoringSSL, built from source: no libcurl, no OpenSSL)
#   tests:  real consumers of seedgen's output — cloud-init + netplan.io (schema, net-convert),
#           xorriso, genisoimage (isoinfo), util-linux (blkid), shellcheck, qemu-utils (qemu-img),
#           gnupg + gpgv (signed checksum lists), curl (the download peer),
#           openssl (test certificates), cloud-image-utils (cloud-localds, the peer),
#           liburi-perl (URI::Escape, the encoder and decoder Proxmox's qm and API use for sshkeys)
#   bench:  hyperfine
set -euo pipefail
packages=(
  libisoburn-dev libcrypt-dev pkg-config
  cloud-init netplan.io xorriso genisoimage util-linux shellcheck qemu-utils
  gnupg gpgv curl openssl cloud-image-utils python3 hyperfine liburi-perl
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
