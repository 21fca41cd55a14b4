#!/usr/bin/env bash
# deploy/build-images.sh's steps on an image root that mmdebstrap extracted.
#   image-root.sh status ROOT      (mmdebstrap --extract-hook, while the .debs
#                                    are there) a dpkg status.d entry per package,
#                                    as distroless images have, so scanners see
#                                    what is inside
#   image-root.sh finish ROOT UID BINARY  (after mmdebstrap) trims what
#                                    BINARY does not need (docs, locales, the
#                                    packages' libraries it never loads) and
#                                    names UID in passwd
# What is left: libraries, their copyright files, passwd/group/nsswitch, a
# loader cache. No shell, no dpkg, no apt: nothing to run but the binary.
set -euo pipefail
step=$1 root=$2
# Never the machine's own root: every path below is deleted or rewritten.
[ -n "$root" ] && root=$(cd "$root" && pwd -P)
if [ -z "$root" ] || [ "$root" = / ]; then
  echo "image-root: bad root '$2'" >&2
  exit 2
fi

if [ "$step" = status ]; then
  mkdir -p "$root/var/lib/dpkg/status.d"
  for deb in "${root:?}"/var/cache/apt/archives/*.deb; do
    pkg=$(dpkg-deb -f "$deb" Package)
    { dpkg-deb -f "$deb" Package Version Architecture Source Maintainer
      echo "Status: install ok installed"; } >"$root/var/lib/dpkg/status.d/$pkg"
  done
  exit 0
fi

uid=$3 binary=$4
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
# gconv: iconv's modules for other charsets; nothing here converts any.
rm -rf "${root:?}"/usr/share/{man,info,locale,lintian,bug,common-licenses} \
  "${root:?}"/usr/lib/x86_64-linux-gnu/gconv "${root:?}"/etc/{apt,dpkg,fstab,hostname,resolv.conf} \
  "${root:?}"/var/lib/apt "${root:?}"/var/cache "${root:?}"/var/log "${root:?}"/dev/* "${root:?}"/tmp/*
find "$root/var/lib/dpkg" -mindepth 1 -maxdepth 1 ! -name status.d -exec rm -rf {} +
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\n' \
  "$uid" "$uid" >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:%s:\n' "$uid" >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
# localhost resolves where no runtime mounts /etc/hosts (kubelet does).
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
mkdir -p "$root/tmp" "$root/home/nonroot"
chmod 1777 "$root/tmp"
chown "$uid:$uid" "$root/home/nonroot"
ldconfig -r "$root"  # for the loader below

# The packages' shared libraries outside what BINARY loads, found by the
# image's own loader (e.g. libgrpc_unsecure, libprotoc): a package ships
# several, a binary links some. Plugin directories (OpenSSL's, krb5's) stay.
cp "$binary" "$root/tmp/binary"
chroot "$root" /lib64/ld-linux-x86-64.so.2 --list /tmp/binary |
  awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sed "s|^|$root|" | xargs readlink -f |
  sort -u >"$root/tmp/loaded"
find "$root/usr/lib/x86_64-linux-gnu" -maxdepth 1 -type f -name '*.so*' | sort |
  comm -23 - "$root/tmp/loaded" | xargs -r rm -f
find "$root/usr/lib/x86_64-linux-gnu" -maxdepth 1 -xtype l -delete  # their symlinks
rm -f "$root/tmp/binary" "$root/tmp/loaded"
ldconfig -r "$root"
rm -rf "${root:?}/var/cache"  # ldconfig's aux cache
