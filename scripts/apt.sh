# Debian packages, installed only when missing. Source this file, then:
#   apt_ensure WHO PKG...   installs what is missing (needs root; otherwise says what to run and
#                           returns 1); sets APT_INSTALLED=1 when it installed something
#   apt_stop_service NAME   stops a system service a package started on install (we run our own processes)
apt_ensure() {
  local who="$1" p missing=()
  shift
  APT_INSTALLED=0
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$who: missing Debian packages ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "$who: installing ${missing[*]} ..." >&2
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
  APT_INSTALLED=1
}

apt_stop_service() {
  if [ -x "/etc/init.d/$1" ] && "/etc/init.d/$1" status > /dev/null 2>&1; then
    echo "stopping the system service $1 that its package started (/etc/init.d/$1 stop)" >&2
    "/etc/init.d/$1" stop > /dev/null 2>&1 || true
  fi
}
