#!/usr/bin/env bash
# A throwaway certificate authority and certificates, with the openssl CLI:
# for local runs (.local/tls/) and tests (their temporary directory). Never
# for production: the CA key sits next to the certificates.
#
#   tls-certs.sh ca DIR                  DIR/ca.crt, DIR/ca.key (kept if present)
#   tls-certs.sh cert DIR NAME SANS [CN] DIR/NAME.crt, DIR/NAME.key signed by DIR's CA
#
# SANS is an X.509 subjectAltName list, e.g.
# "DNS:localhost,IP:127.0.0.1,URI:spiffe://booking.local/booking-service",
# or "none" for a certificate without one (tests). CN is the subject's
# common name (default NAME); it names no caller.
# A certificate is written to a temporary name and renamed into place, so a
# process watching the files never reads half of one.
set -euo pipefail
umask 077
cmd=${1:?usage: tls-certs.sh ca DIR | cert DIR NAME SANS}
dir=${2:?DIR required}
mkdir -p "$dir"
case "$cmd" in
  ca)
    [ -f "$dir/ca.crt" ] && exit 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 30 -subj "/CN=booking local CA" \
      2>/dev/null
    ;;
  cert)
    name=${3:?NAME required}
    sans=${4:?SANS required}
    cn=${5:-$name}
    tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    [ "$sans" = none ] || printf 'subjectAltName=%s\n' "$sans" >"$tmp/ext"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' \
      >>"$tmp/ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -keyout "$tmp/key" -out "$tmp/csr" -subj "/CN=${cn//\//\\/}" 2>/dev/null
    openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 -extfile "$tmp/ext" \
      -out "$tmp/crt" 2>/dev/null
    mv "$tmp/key" "$dir/$name.key"
    mv "$tmp/crt" "$dir/$name.crt"
    ;;
  *)
    echo "usage: tls-certs.sh ca DIR | cert DIR NAME SANS" >&2
    exit 2
    ;;
esac
