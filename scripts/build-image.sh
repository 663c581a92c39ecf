#!/usr/bin/env bash
# Builds recordflow's container image (image/Containerfile) with buildah, from what Debian's
# archive and PyPI serve: no image registry is asked for anything. `make image` runs it; so does
# tests/integration/test_image.py before it runs the image (quick when the caches hold).
#
#   1. Debian's buildah and debootstrap (and podman and runc, which run the image in the test),
#      from apt when missing.
#   2. A Debian 12 root made by `debootstrap --variant=minbase`, tarred once and kept.
#   3. The runtime dependencies' wheels (pyproject.toml's [project] dependencies, no dev extras),
#      built by $PYTHON (.venv's, a CPython 3.11 like the image's), kept until the list changes.
#   4. The project's own wheel, from the files git knows (tracked or new, not ignored) copied
#      to a clean folder, so nothing stale under build/ slips in.
#   5. `buildah bud --isolation chroot --layers`: chroot isolation runs the RUN steps with no OCI
#      runtime; the layers are cached, so a second build with the same dependencies only
#      reinstalls the project's wheel.
#
# Everything lives under .recordflow/image/ (git-ignored), the image in its own buildah storage
# there (storage/), tagged localhost/recordflow:<version>. Prints the image's tag.
# IMAGE_FRESH=1: no cached layer (the Debian layer's security updates are otherwise those of the
# first build).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/.recordflow/image
STORAGE=$WORK/storage
RUNROOT=$WORK/run
CONTEXT=$WORK/context
PYTHON=${PYTHON:-.venv/bin/python}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Debian 12's python3 is CPython 3.11 with glibc 2.36: the wheels must be for that.
IMAGE_PYTHON=3.11
BASE_TAR=$CONTEXT/debian-bookworm-minbase.tar

log() { printf '[image] %s\n' "$*" >&2; }

# 1. Tools.
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
  log "installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "building the image needs root here (debootstrap, and buildah's chroot isolation with its own storage)" >&2
  exit 1
fi

mkdir -p "$CONTEXT"
# One build at a time (CI's background build and the image test may start together); the second
# finds the layers cached.
exec 9>"$WORK/build.lock"
flock 9

# The wheels are built by $PYTHON for itself: it must be the image's CPython.
python_version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [[ $python_version != "$IMAGE_PYTHON" ]]; then
  echo "$PYTHON is Python $python_version: the image's wheels need a CPython $IMAGE_PYTHON (Debian 12's python3); set PYTHON" >&2
  exit 1
fi

# 2. The Debian base, once.
if [[ ! -f $BASE_TAR ]]; then
  log "debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR"
  rootfs=$(mktemp -d "$WORK/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # Device nodes, /proc and /sys come from the runtime; apt's lists are fetched again in the build.
  tar --numeric-owner -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./var/cache/apt/*.bin' --exclude='./var/lib/apt/lists/*' -cf "$BASE_TAR.part" .
  mv "$BASE_TAR.part" "$BASE_TAR"
  rm -rf "$rootfs"
  trap - EXIT
fi

# 3. The dependencies' wheels, again only when the list changes.
requirements=$("$PYTHON" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
if [[ ! -f $CONTEXT/deps/requirements.txt || $requirements != "$(cat "$CONTEXT/deps/requirements.txt")" ]]; then
  log "building the runtime dependencies' wheels"
  mkdir -p "$CONTEXT/deps.part"
  printf '%s\n' "$requirements" >"$CONTEXT/deps.part/requirements.txt"
  # `pip wheel`, not `pip download --platform`: a few dependencies (bagit) publish no wheel.
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$CONTEXT/deps.part" \
    -r "$CONTEXT/deps.part/requirements.txt"
  mv "$CONTEXT/deps.part" "$CONTEXT/deps"
fi

# 4. The project's wheel, from a clean copy of the source.
log "building the project's wheel"
source_copy=$(mktemp -d "$WORK/source.XXXXXX")
trap 'rm -rf "$source_copy"' EXIT
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [[ -e $f ]]; then printf '%s\0' "$f"; fi  # a file deleted but not yet committed is left out
done | tar --null -T - -cf - | tar -C "$source_copy" -xf -
rm -rf "$CONTEXT/app"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$CONTEXT/app" "$source_copy"
rm -rf "$source_copy"
trap - EXIT

# 5. The image.
version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
tag=localhost/recordflow:$version
B=(buildah --root "$STORAGE" --runroot "$RUNROOT")
previous=$("${B[@]}" images --quiet --no-trunc "$tag" 2>/dev/null || true)
log "buildah bud -> $tag (storage $STORAGE)"
fresh=()
# The Debian layer is cached like the others: IMAGE_FRESH=1 builds every layer again (the day's
# security updates, the dependencies' newest releases within their pins).
if [[ ${IMAGE_FRESH:-} == 1 ]]; then fresh=(--no-cache); fi
"${B[@]}" bud --isolation chroot --layers "${fresh[@]}" \
  --build-arg DEBIAN_MIRROR="$DEBIAN_MIRROR" -f image/Containerfile -t "$tag" "$CONTEXT" >"$WORK/bud.log" 2>&1 ||
  { tail -40 "$WORK/bud.log" >&2; exit 1; }
# The image this one replaces, untagged now: gone, unless a container still uses it. (The
# intermediate images stay: they are the layer cache.)
current=$("${B[@]}" images --quiet --no-trunc "$tag")
if [[ -n $previous && $previous != "$current" ]]; then
  "${B[@]}" rmi "$previous" >/dev/null 2>&1 || true
fi
"${B[@]}" images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$tag" >&2
echo "$tag"
