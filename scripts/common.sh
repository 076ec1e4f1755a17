# Shared set-up for the README's two commands. Sourced, not run.
# Installs only what is missing, never starts or enables a service, and finds Swift even when it is not on PATH.
set -euo pipefail

PW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PW_PACKAGES=(libnftnl-dev libmnl-dev nftables iproute2 iptables pkg-config python3 python3-jsonschema util-linux procps libxml2-dev)
# What the packaging tests also need (make install, man pages, the .deb), nmap for the reconcile tests, and
# openssh-server/-client and python3-pip (for ansible-core) for the fleet test (sshd runs only in test namespaces,
# never as a service of this machine): only scripts/test installs these.
PW_TEST_PACKAGES=(make binutils man-db dpkg-dev nmap openssh-server openssh-client python3-pip)

pw_log() { printf 'portwarden: %s\n' "$*" >&2; }

pw_need_root_for() {
    if [ "$(id -u)" -ne 0 ]; then
        pw_log "installing $* needs root (run this command as root, or install them yourself first)"
        exit 3
    fi
}

# Installs the missing system packages (default: PW_PACKAGES). Package scripts are not allowed to start services while
# we install (a temporary policy-rc.d, only if the machine has none), so a firewall package never starts on this host.
pw_install_packages() {
    local wanted=("$@")
    [ ${#wanted[@]} -eq 0 ] && wanted=("${PW_PACKAGES[@]}")
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    pw_need_root_for "${missing[*]}"
    pw_log "installing ${missing[*]}"
    local guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        guard=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# temporary, written by portwarden set-up: no service starts during install\nexit 101\n' > "$guard"
        chmod 0755 "$guard"
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/portwarden-apt.log 2>&1; then
        apt-get update >>/tmp/portwarden-apt.log 2>&1 || true
        if ! apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/portwarden-apt.log 2>&1; then
            pw_log "apt-get install failed; see /tmp/portwarden-apt.log"
            tail -n 20 /tmp/portwarden-apt.log >&2
            exit 3
        fi
    fi
    if [ -n "$guard" ]; then rm -f "$guard"; trap - EXIT; fi
    pw_disable_fresh_services "${missing[@]}"
}

# A package installed just now that ships a daemon (openssh-server: ssh) is enabled by Debian for the next boot;
# disable it again, so installing test tools never leaves a new service on this machine. Packages that were already
# installed are never passed here, so an existing sshd is left as it was.
pw_disable_fresh_services() {
    local p u
    for p in "$@"; do
        case "$p" in
            openssh-server) for u in ssh.service ssh.socket; do
                if command -v deb-systemd-helper >/dev/null 2>&1; then deb-systemd-helper disable "$u" >/dev/null 2>&1 || true; fi
                if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$u" >/dev/null 2>&1 || true; fi
            done ;;
        esac
    done
}

# ansible-core from PyPI (Debian 12's ansible is older), for the fleet test that runs examples/ansible; only when
# `ansible-playbook` is missing. A failed install stops only CI (PORTWARDEN_REQUIRE_NETNS=1, where the test would fail
# anyway); elsewhere the fleet test is then skipped.
pw_install_ansible() {
    command -v ansible-playbook >/dev/null 2>&1 && return 0
    pw_log "installing ansible-core (pip)"
    # Debian's python3 is externally managed (PEP 668): pip refuses it unless told otherwise.
    if python3 -m pip install --quiet ansible-core >/tmp/portwarden-pip.log 2>&1 \
        || python3 -m pip install --quiet --break-system-packages ansible-core >>/tmp/portwarden-pip.log 2>&1; then
        return 0
    fi
    pw_log "pip install ansible-core failed; see /tmp/portwarden-pip.log"
    tail -n 20 /tmp/portwarden-pip.log >&2
    if [ "${PORTWARDEN_REQUIRE_NETNS:-}" = "1" ]; then exit 3; fi
}

# Puts a Swift toolchain on PATH: an existing `swift`, or one of the usual install locations.
pw_find_swift() {
    if command -v swift >/dev/null 2>&1; then return 0; fi
    local d
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin /opt/swift/bin "$HOME/.swiftly/bin" /usr/local/bin; do
        if [ -x "$d/swift" ]; then export PATH="$d:$PATH"; return 0; fi
    done
    local found
    found=$(ls -d /opt/swift*/usr/bin /usr/share/swift*/usr/bin 2>/dev/null | head -n 1 || true)
    if [ -n "$found" ] && [ -x "$found/swift" ]; then export PATH="$found:$PATH"; return 0; fi
    pw_log "no Swift toolchain found (looked on PATH, /opt/swift, /usr/share/swift, ~/.swiftly); install Swift 6 from swift.org"
    exit 3
}

# ufw and firewalld, for the differential tests that compare their real rulesets with the kernel. Installed only when
# asked (CI sets PORTWARDEN_REQUIRE_NETNS=1), with service starts blocked, and any unit the packages enabled is
# disabled again, so neither runs on this machine, now or after a reboot. The tests run them only inside their own
# namespaces with private copies of the configuration.
pw_install_firewall_tools() {
    local fresh=()
    for p in ufw firewalld; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || fresh+=("$p")
    done
    [ ${#fresh[@]} -eq 0 ] && return 0
    pw_install_packages "${fresh[@]}"
    local p
    for p in "${fresh[@]}"; do
        if command -v deb-systemd-helper >/dev/null 2>&1; then
            deb-systemd-helper disable "$p.service" >/dev/null 2>&1 || true
        fi
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now "$p.service" >/dev/null 2>&1 || true
        fi
    done
}
