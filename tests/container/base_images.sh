#!/usr/bin/env bash
# Makes the Dockerfile's base images, debian:12 and debian:12-slim, locally when
# they are absent: a minbase bookworm from the Debian archive this host's apt
# uses (read from /etc/apt at run time; no container registry is needed).
# Both tags name the same image: minbase is already the slim set.
# Usage: tests/container/base_images.sh   (root; podman and debootstrap installed)
set -euo pipefail

# The first Debian archive URL in apt's sources that serves bookworm (not -security).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # deb822 stanzas: the URIs of the first stanza whose Suites has bookworm.
    awk 'BEGIN{RS=""; FS="\n"}
      { uri=""; ok=0
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok=1
        }
        if (ok && uri != "") { print uri; exit } }' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    awk '$1=="deb" && $0 ~ /[ \t]bookworm[ \t]/ { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }'
}

if podman image exists debian:12 && podman image exists debian:12-slim; then
  exit 0
fi
mirror=$(debian_mirror | head -n1)
[ -n "$mirror" ] || { echo "base_images: no bookworm archive in /etc/apt sources" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "==> debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 ||
  { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# The image's apt keeps using the same archive, as the host's does.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - debian:12 > /dev/null
podman tag debian:12 debian:12-slim
echo "==> imported debian:12 and debian:12-slim"
