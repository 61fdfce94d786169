#!/usr/bin/env bash
# A local libvirt test host reached over SSH, for tests, examples and the demo.
#   testhost.sh start [--hosts N]
#                       install what is missing, start virtlogd + libvirtd and a private sshd on
#                       127.0.0.1 at a free port (the one it had before, while free); print the
#                       connection as JSON (also kept in $STATE_DIR/testhost.json, where tests and
#                       examples read it). With N > 1, hosts b, c, ... are more libvirt hosts on
#                       this machine, each in a private mount namespace (own libvirtd, NVRAM and
#                       firmware directories, sshd port). Without --hosts: the hosts running now.
#   testhost.sh stop    stop the sshds and the extra hosts (the machine's libvirtd keeps running)
#   testhost.sh json    print the JSON of the running host
# Idempotent; needs root on a Debian machine. Nothing else in the project hard-codes ports or keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE_DIR="${PULUMI_OVMF_TESTHOST_DIR:-$REPO_ROOT/.testhost}"
JSON="$STATE_DIR/testhost.json"
PACKAGES=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils ovmf openssh-server openssh-client sudo dbus polkitd libxml2-utils swtpm swtpm-tools sbsigntool systemd-boot-efi shim-signed mtools dosfstools)
# Test users: one with passwordless sudo, one without sudo, one that logs in with a password.
SUDO_USER_NAME=ovmf-sudo NOSUDO_USER_NAME=ovmf-nosudo PASSWORD_USER_NAME=ovmf-pw

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
  # The system bus and polkit first, as on a real host: libvirtd asks polkit whether a non-root
  # user may manage qemu:///system (and says "authentication unavailable" when not).
  if ! pgrep -x dbus-daemon >/dev/null; then mkdir -p /run/dbus; rm -f /run/dbus/pid; dbus-daemon --system --fork; fi
  if ! pgrep -x polkitd >/dev/null; then (/usr/lib/polkit-1/polkitd --no-debug >/dev/null 2>&1 &); fi
  if virsh -c qemu:///system list >/dev/null 2>&1; then return 0; fi
  log "starting virtlogd and libvirtd"
  pgrep -x virtlogd >/dev/null || virtlogd -d
  pgrep -x libvirtd >/dev/null || libvirtd -d
  for _ in $(seq 1 50); do virsh -c qemu:///system list >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "libvirtd did not answer on qemu:///system within 10s"
}

# libvirt runs swtpm (a domain's emulated TPM) as user tss when that user exists, as Debian's
# swtpm-tools makes it; the local CA that signs each TPM's certificates must then be tss's. A libvirtd
# that ran swtpm as root before (started before tss existed) leaves root's files there.
swtpm_state() {
  if getent passwd tss >/dev/null && [ -d /var/lib/swtpm-localca ]; then chown -R tss:root /var/lib/swtpm-localca; fi
}

# free_port [PORTFILE]: the port a host had before (PORTFILE) when it is still free, so that a
# stack pointed at the test host keeps working after a restart; otherwise a random free one.
free_port() {
  local p
  if [ -n "${1:-}" ] && [ -f "$1" ]; then
    p=$(cat "$1")
    if [[ "$p" =~ ^[0-9]+$ ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  fi
  for _ in $(seq 1 100); do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port found on 127.0.0.1"
}

pid_alive() { [ -f "$STATE_DIR/$1.pid" ] && kill -0 "$(cat "$STATE_DIR/$1.pid")" 2>/dev/null; }
sshd_running() { pid_alive sshd && pid_alive bastion; }
HOSTS="${PULUMI_OVMF_TESTHOSTS:-}"

# kvm only when KVM here really runs OVMF (nested KVM often starts a guest, then stops it on the
# firmware's first unusual instruction); else qemu (TCG). Decided by the provider's own probe, the one
# behind domainType "auto" (scripts/kvm-probe.mts), over this test host's sshd.
domain_type() {
  # Debian's udev rule gives /dev/kvm group kvm, mode 0660; machines without udev leave it root-only.
  if [ -c /dev/kvm ] && [ "$(stat -c %G /dev/kvm)" = root ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
  local type
  type=$(node "$REPO_ROOT/scripts/kvm-probe.mts" 127.0.0.1 "$(cat "$STATE_DIR/sshd.port")" "$STATE_DIR/client_ed25519" "$(fingerprint ssh_host_ed25519_key)" 2> "$STATE_DIR/kvm-probe.log") \
    || die "the KVM probe failed: $(cat "$STATE_DIR/kvm-probe.log")"
  [ ! -s "$STATE_DIR/kvm-probe.log" ] || log "$(sed 's/^warning: //' "$STATE_DIR/kvm-probe.log")"
  echo "$type"
}

# QEMUs that fail like nested KVM (the guest pauses with a KVM internal error) or crash right after
# starting, for the tests of what the provider does then; a domain opts in with <emulator>.
FAILING_QEMU_DIR=/usr/local/libexec/pulumi-ovmf-testhost
install_failing_qemus() {
  install -d -m 0755 "$FAILING_QEMU_DIR"
  install -m 0755 "$REPO_ROOT/test/support/failing-qemu.sh" "$FAILING_QEMU_DIR/qemu-kvm-fails"
  install -m 0755 "$REPO_ROOT/test/support/failing-qemu.sh" "$FAILING_QEMU_DIR/qemu-crashes"
}

ensure_users() {
  local u
  for u in "$SUDO_USER_NAME" "$NOSUDO_USER_NAME" "$PASSWORD_USER_NAME"; do
    id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u"
  done
  # Key-only users: "*" (no password) rather than useradd's "!" (locked), which sshd refuses.
  usermod -p '*' "$SUDO_USER_NAME"; usermod -p '*' "$NOSUDO_USER_NAME"
  echo "$SUDO_USER_NAME ALL=(root) NOPASSWD: ALL" > /etc/sudoers.d/pulumi-ovmf-testhost
  chmod 440 /etc/sudoers.d/pulumi-ovmf-testhost
  [ -f "$STATE_DIR/password" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$STATE_DIR/password")
  echo "$PASSWORD_USER_NAME:$(cat "$STATE_DIR/password")" | chpasswd
}

keys() {
  mkdir -p "$STATE_DIR" /run/sshd
  # sshd reads authorized_keys as the logging-in user: the directory must be traversable (not
  # listable) and that one file readable; private keys stay 0600.
  chmod 711 "$STATE_DIR"
  local k
  for k in ssh_host_ed25519_key bastion_host_ed25519_key client_ed25519; do
    [ -f "$STATE_DIR/$k" ] || ssh-keygen -q -t ed25519 -N '' -C "pulumi-ovmf-$k" -f "$STATE_DIR/$k"
  done
  [ -f "$STATE_DIR/passphrase" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$STATE_DIR/passphrase")
  [ -f "$STATE_DIR/client_encrypted" ] || ssh-keygen -q -t ed25519 -N "$(cat "$STATE_DIR/passphrase")" -C pulumi-ovmf-encrypted -f "$STATE_DIR/client_encrypted"
  cat "$STATE_DIR/client_ed25519.pub" "$STATE_DIR/client_encrypted.pub" > "$STATE_DIR/authorized_keys"
  chmod 644 "$STATE_DIR/authorized_keys"
}

# sshd_config DIR NAME HOSTKEY PORT: a private sshd's config (pid and log files named NAME in DIR).
sshd_config() {
  local dir=$1 name=$2 hostkey=$3 port=$4
  cat > "$dir/$name.config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $STATE_DIR/$hostkey
PidFile $dir/$name.pid
AuthorizedKeysFile $STATE_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 10
MaxStartups 100:30:200
AllowTcpForwarding yes
LogLevel VERBOSE
Subsystem sftp internal-sftp
# A command's shell must not run this machine's interactive start-up files: bash sources ~/.bashrc
# for a command sshd runs when SHLVL is unset, and a developer's or CI machine's root .bashrc (pyenv,
# nvm, cargo) costs ~200 ms per remote command, which a libvirt host's bare root account does not.
SetEnv SHLVL=1
CONF
  echo "$port" > "$dir/$name.port"
}

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; die "nothing listens on 127.0.0.1:$1"; }

# start_one NAME HOSTKEY: a private sshd on this machine's own libvirt (host "a", and the bastion).
start_one() {
  local name=$1 hostkey=$2 port; port=$(free_port "$STATE_DIR/$name.port")
  sshd_config "$STATE_DIR" "$name" "$hostkey" "$port"
  /usr/sbin/sshd -f "$STATE_DIR/$name.config" -E "$STATE_DIR/$name.log" || die "sshd failed to start (see $STATE_DIR/$name.log)"
  wait_port "$port"
}

HOST_NAMES=(a b c d e f g h)
ISOLATED_DIRS=(run/libvirt var/lib/libvirt var/log/libvirt var/cache/libvirt etc/libvirt etc/qemu)

# Runs inside a private mount namespace: private libvirt state, config and firmware descriptor
# directories bound over the real ones, then this host's virtlogd, libvirtd and sshd.
ISOLATED_INIT='set -e
dir=$1; shift
for d in "$@"; do mount --bind "$dir/root/$d" "/$d"; done
virtlogd -d -p "$dir/virtlogd.pid"
libvirtd -d -p "$dir/libvirtd.pid"
exec /usr/sbin/sshd -f "$dir/sshd.config" -E "$dir/sshd.log"'

# start_isolated NAME: another libvirt host on this machine, with its own filesystem state
# (NVRAM, images, domains), libvirtd socket and sshd on its own port; invisible to the others.
start_isolated() {
  local name=$1 dir="$STATE_DIR/host-$1" d
  mkdir -p "$dir" /etc/qemu
  if [ ! -f "$dir/.seeded" ]; then
    for d in "${ISOLATED_DIRS[@]}"; do mkdir -p "$dir/root/$d"; chmod --reference="/$d" "$dir/root/$d" 2>/dev/null || true; done
    cp -a /etc/libvirt/. "$dir/root/etc/libvirt/"
    rm -f "$dir"/root/etc/libvirt/qemu/networks/autostart/*
    # A new host has no domains: not the definitions (or autostart links) of this machine's libvirt.
    find "$dir/root/etc/libvirt/qemu" -maxdepth 1 -name '*.xml' -delete
    rm -rf "$dir/root/etc/libvirt/qemu/autostart"
    # The directory skeleton of /var/lib/libvirt (qemu/nvram, images, ...) with its owners and modes.
    (cd /var/lib/libvirt && find . -type d) | while read -r d; do
      mkdir -p "$dir/root/var/lib/libvirt/$d"
      chown --reference="/var/lib/libvirt/$d" "$dir/root/var/lib/libvirt/$d"
      chmod --reference="/var/lib/libvirt/$d" "$dir/root/var/lib/libvirt/$d"
    done
    find "$dir/root/var/lib/libvirt" -mindepth 1 -maxdepth 1 -name pulumi-ovmf -exec rm -rf {} +
    touch "$dir/.seeded"
  fi
  # The log directories too (the package makes /var/log/libvirt/qemu; libvirtd does not): without
  # them no domain can start there ("Unable to open file: /var/log/libvirt/qemu/...").
  (cd /var/log/libvirt && find . -type d) | while read -r d; do
    mkdir -p "$dir/root/var/log/libvirt/$d"
    chown --reference="/var/log/libvirt/$d" "$dir/root/var/log/libvirt/$d"
    chmod --reference="/var/log/libvirt/$d" "$dir/root/var/log/libvirt/$d"
  done
  # Live migration between the test hosts: libvirt refuses to migrate to "the same host", and hosts
  # on one machine would report one host UUID (the machine's SMBIOS one): each says its own.
  local uuid
  uuid=$(printf 'pulumi-ovmf-test-host-%s' "$name" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
  sed -i '/^host_uuid *=/d' "$dir/root/etc/libvirt/libvirtd.conf"
  echo "host_uuid = \"$uuid\"" >> "$dir/root/etc/libvirt/libvirtd.conf"
  [ -f "$STATE_DIR/host_${name}_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "pulumi-ovmf-host-$name" -f "$STATE_DIR/host_${name}_ed25519_key"
  local port; port=$(free_port "$dir/sshd.port")
  sshd_config "$dir" sshd "host_${name}_ed25519_key" "$port"
  unshare --mount --propagation private -- sh -c "$ISOLATED_INIT" sh "$dir" "${ISOLATED_DIRS[@]}" \
    || die "isolated host $name failed to start (see $dir/sshd.log)"
  wait_port "$port"
}

isolated_running() { local dir="$STATE_DIR/host-$1"; [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; }

stop_isolated() {
  local dir="$STATE_DIR/host-$1" pid
  [ -d "$dir" ] || return 0
  if [ -f "$dir/libvirtd.pid" ] && kill -0 "$(cat "$dir/libvirtd.pid")" 2>/dev/null; then
    pid=$(cat "$dir/libvirtd.pid")
    for d in $(nsenter -t "$pid" -m virsh -q -c qemu:///system list --name 2>/dev/null); do
      nsenter -t "$pid" -m virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    done
  fi
  for f in sshd libvirtd virtlogd; do
    [ -f "$dir/$f.pid" ] && kill "$(cat "$dir/$f.pid")" 2>/dev/null || true
    rm -f "$dir/$f.pid"
  done
}

start_sshd() {
  keys
  start_one sshd ssh_host_ed25519_key
  # A second sshd on its own port and host key: the jump host (bastion) for jump-host tests.
  start_one bastion bastion_host_ed25519_key
}

fingerprint() { ssh-keygen -lf "$STATE_DIR/$1.pub" | awk '{print $2}'; }

# host_json NAME PORT HOSTKEY_FILE
host_json() {
  printf '    { "name": "%s", "host": "127.0.0.1", "port": %s, "user": "root", "privateKeyPath": "%s", "hostKey": "%s" }' \
    "$1" "$2" "$STATE_DIR/client_ed25519" "$(fingerprint "$3")"
}

write_json() {
  local i hosts
  DOMAIN_TYPE=$(domain_type)
  hosts=$(host_json a "$(cat "$STATE_DIR/sshd.port")" ssh_host_ed25519_key)
  for ((i = 1; i < HOSTS; i++)); do
    local n=${HOST_NAMES[$i]}
    hosts+=$',\n'"$(host_json "$n" "$(cat "$STATE_DIR/host-$n/sshd.port")" "host_${n}_ed25519_key")"
  done
  cat > "$JSON.tmp" <<J
{
  "host": "127.0.0.1",
  "port": $(cat "$STATE_DIR/sshd.port"),
  "user": "root",
  "privateKeyPath": "$STATE_DIR/client_ed25519",
  "hostKey": "$(fingerprint ssh_host_ed25519_key)",
  "domainType": "$DOMAIN_TYPE",
  "failingEmulators": { "kvmFails": "$FAILING_QEMU_DIR/qemu-kvm-fails", "crashes": "$FAILING_QEMU_DIR/qemu-crashes" },
  "sshdLog": "$STATE_DIR/sshd.log",
  "encryptedKey": { "privateKeyPath": "$STATE_DIR/client_encrypted", "passphrasePath": "$STATE_DIR/passphrase" },
  "users": {
    "sudo": "$SUDO_USER_NAME",
    "noSudo": "$NOSUDO_USER_NAME",
    "password": { "user": "$PASSWORD_USER_NAME", "passwordPath": "$STATE_DIR/password" }
  },
  "hosts": [
$hosts
  ],
  "jumpHost": {
    "host": "127.0.0.1",
    "port": $(cat "$STATE_DIR/bastion.port"),
    "user": "root",
    "privateKeyPath": "$STATE_DIR/client_ed25519",
    "hostKey": "$(fingerprint bastion_host_ed25519_key)"
  }
}
J
  mv "$JSON.tmp" "$JSON"
}

cmd="${1:-start}"; shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) HOSTS="$2"; shift 2 ;;
    *) die "unknown option $1 (usage: testhost.sh start [--hosts N]|stop|json)" ;;
  esac
done
if [ -z "$HOSTS" ]; then
  # Without --hosts, keep the hosts that run (a demo after `npm test` must not drop host b).
  HOSTS=1
  while [ "$HOSTS" -lt ${#HOST_NAMES[@]} ] && isolated_running "${HOST_NAMES[$HOSTS]}"; do HOSTS=$((HOSTS + 1)); done
fi
[ "$HOSTS" -ge 1 ] && [ "$HOSTS" -le ${#HOST_NAMES[@]} ] || die "--hosts takes 1 to ${#HOST_NAMES[@]}"

case "$cmd" in
  start)
    install_packages
    install_failing_qemus
    swtpm_state
    start_libvirt
    if ! sshd_running; then bash "$0" stop >/dev/null 2>&1 || true; start_sshd; fi
    # The test users are system-wide: (re)apply this state directory's password on every start.
    ensure_users
    for ((i = 1; i < HOSTS; i++)); do
      # A host started by an older copy of this script may lack its own host UUID: restarted.
      if isolated_running "${HOST_NAMES[$i]}" && grep -q '^host_uuid' "$STATE_DIR/host-${HOST_NAMES[$i]}/root/etc/libvirt/libvirtd.conf" 2>/dev/null; then continue; fi
      stop_isolated "${HOST_NAMES[$i]}"; start_isolated "${HOST_NAMES[$i]}"
    done
    # The KVM probe is the provider's own: Node 22 and the built package.
    ensure_node
    ensure_npm_deps
    (cd "$REPO_ROOT" && npm run --silent build) || die "npm run build failed"
    write_json
    cat "$JSON"
    ;;
  stop)
    for n in "${HOST_NAMES[@]:1}"; do stop_isolated "$n"; done
    for name in sshd bastion; do
      if pid_alive "$name"; then kill "$(cat "$STATE_DIR/$name.pid")"; log "test host $name stopped"; fi
    done
    rm -f "$JSON"
    ;;
  json)
    sshd_running && [ -f "$JSON" ] || die "the test host is not running: npm run testhost -- start"
    cat "$JSON"
    ;;
  *) die "usage: testhost.sh start [--hosts N]|stop|json" ;;
esac
