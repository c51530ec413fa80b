# Shared by the benchmark scripts (source it): the ordinary Debian image
# they all measure, and peak RSS.

# big_image WORK: writes WORK/layout, an OCI layout of a bookworm 'standard'
# system with a few heavy packages (>= 300 packages, one gzip layer), from the
# host's apt sources. The podman image is removed on exit by the caller's trap.
# BENCH_LAYOUT=DIR reuses a layout an earlier run made (it takes minutes).
big_image() {
  local work="$1" sources=""
  if [ -n "${BENCH_LAYOUT:-}" ]; then
    cp -r "$BENCH_LAYOUT" "$work/layout"
    return
  fi
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
    [ -s "$f" ] && sources="$f" && break
  done
  mmdebstrap -q --variant=standard --include=python3,perl,git,curl,openssh-client,build-essential \
    --format=tar bookworm "$work/rootfs.tar" "$sources"
  local p="podman --storage-driver vfs --cgroup-manager cgroupfs --runtime runc"
  $p import "$work/rootfs.tar" localhost/bulwark-bench:big >/dev/null
  $p save --format oci-dir -o "$work/layout" localhost/bulwark-bench:big >/dev/null
}

# rss CMD...: the command's peak resident set, in KiB.
rss() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
