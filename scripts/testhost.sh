#!/usr/bin/env bash
# A local libvirt test host reached over SSH, for tests, examples and the demo.
#   testhost.sh start   install what is missing, start virtlogd + libvirtd and a private sshd on
#                       127.0.0.1 at a free port; print the connection as JSON (also kept in
#                       $STATE_DIR/testhost.json, where tests and examples read it)
#   testhost.sh stop    stop the private sshd (libvirtd keeps running: other users may need it)
#   testhost.sh json    print the JSON of the running host
# Idempotent; needs root on a Debian machine. Nothing else in the project hard-codes ports or keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE_DIR="${PULUMI_OVMF_TESTHOST_DIR:-$REPO_ROOT/.testhost}"
JSON="$STATE_DIR/testhost.json"
PACKAGES=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils ovmf openssh-server openssh-client)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "the test host needs root to install: ${missing[*]}"
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# libvirtd and virtlogd, started directly: these machines run no init system, and apt's policy
# refuses to start services.
start_libvirt() {
  if virsh -c qemu:///system version >/dev/null 2>&1; then return 0; fi
  log "starting virtlogd and libvirtd"
  pgrep -x virtlogd >/dev/null || virtlogd -d
  pgrep -x libvirtd >/dev/null || libvirtd -d
  for _ in $(seq 1 50); do virsh -c qemu:///system version >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "libvirtd did not answer on qemu:///system within 10s"
}

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port found on 127.0.0.1"
}

sshd_running() { [ -f "$STATE_DIR/sshd.pid" ] && kill -0 "$(cat "$STATE_DIR/sshd.pid")" 2>/dev/null; }

domain_type() {
  if virsh -c qemu:///system domcapabilities --virttype kvm --machine q35 --arch x86_64 >/dev/null 2>&1; then
    echo kvm
  else
    echo qemu
  fi
}

start_sshd() {
  mkdir -p "$STATE_DIR" /run/sshd
  chmod 700 "$STATE_DIR"
  [ -f "$STATE_DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C pulumi-ovmf-testhost -f "$STATE_DIR/ssh_host_ed25519_key"
  [ -f "$STATE_DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C pulumi-ovmf-client -f "$STATE_DIR/client_ed25519"
  cp "$STATE_DIR/client_ed25519.pub" "$STATE_DIR/authorized_keys"
  local port; port=$(free_port)
  cat > "$STATE_DIR/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $STATE_DIR/ssh_host_ed25519_key
PidFile $STATE_DIR/sshd.pid
AuthorizedKeysFile $STATE_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 10
LogLevel VERBOSE
Subsystem sftp internal-sftp
CONF
  /usr/sbin/sshd -f "$STATE_DIR/sshd_config" -E "$STATE_DIR/sshd.log" || die "sshd failed to start (see $STATE_DIR/sshd.log)"
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  echo "$port" > "$STATE_DIR/port"
}

write_json() {
  local fp; fp=$(ssh-keygen -lf "$STATE_DIR/ssh_host_ed25519_key.pub" | awk '{print $2}')
  cat > "$JSON.tmp" <<J
{
  "host": "127.0.0.1",
  "port": $(cat "$STATE_DIR/port"),
  "user": "root",
  "privateKeyPath": "$STATE_DIR/client_ed25519",
  "hostKey": "$fp",
  "domainType": "$(domain_type)"
}
J
  mv "$JSON.tmp" "$JSON"
}

case "${1:-start}" in
  start)
    install_packages
    start_libvirt
    sshd_running || start_sshd
    write_json
    cat "$JSON"
    ;;
  stop)
    if sshd_running; then kill "$(cat "$STATE_DIR/sshd.pid")"; log "test host sshd stopped"; fi
    rm -f "$JSON"
    ;;
  json)
    sshd_running && [ -f "$JSON" ] || die "the test host is not running: npm run testhost -- start"
    cat "$JSON"
    ;;
  *) die "usage: testhost.sh start|stop|json" ;;
esac
