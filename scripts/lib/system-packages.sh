# Sourced by scripts/test.sh: the Debian packages the tests need, installed when missing
# (as root, with apt-get), or named in one line with the command that installs them.

ensure_system_packages() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || need+=(nginx-light)
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  # report.html is tested in headless Chromium over WebDriver (harness/tests/report_browser.rs).
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  # Instruction counts per request (lanebench cost) run the servers under callgrind.
  command -v valgrind >/dev/null || need+=(valgrind)
  # Database mode (verify/run --store postgres) runs its own server from these binaries.
  local postgres=yes
  if ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    need+=(postgresql)
    postgres=
  fi
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "$(basename "$0"): missing system packages: ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
    exit 2
  fi
  if [ -z "$postgres" ] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    # lanebench makes its own clusters on free ports; Debian's default one on 5432 would
    # only sit there using memory.
    mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
  fi
  echo "== apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}
