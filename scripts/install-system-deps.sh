#!/usr/bin/env bash
# Installs the system tools the local stack needs, from Debian's packages, when they are missing:
# Java 17 (runs Kafka and the schema registry), Maven (fetches their jars from Maven Central),
# Go (builds versitygw, helm and kube-apiserver from the Go module proxy), etcd (kube-apiserver's store
# in the Helm chart's install tests), Prometheus, OpenSSL (the SM2 tests compare with
# it), Chromium and the Noto CJK fonts (the console's browser tests drive Debian's chromium through
# Playwright; without the fonts Chinese renders as boxes), a Chinese TrueType font (the transfer
# register's PDF). Python packages go into .venv.
set -euo pipefail

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)  # the alert rules' and dashboards' tests
command -v etcd >/dev/null || missing+=(etcd-server)  # tests/helm/ starts its own, on free ports
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)  # the SM2 tests check against OpenSSL
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v chromium >/dev/null || missing+=(chromium)  # the console's browser tests
[[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]] || missing+=(fonts-noto-cjk)  # Chinese in chromium
# The receiving register's PDF embeds a TrueType CJK font (reportlab cannot embed Noto CJK's CFF):
# Settings.report_font_file, by default this package's WenQuanYi Zen Hei.
[[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]] || missing+=(fonts-wqy-zenhei)

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
  echo "installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# versitygw needs a recent Go; Debian 12's golang is too old, so the Go toolchain must be present.
if ! command -v go >/dev/null; then
  echo "Go is not installed: install Go >= 1.24 (it builds versitygw with 'go install')" >&2
  exit 1
fi
