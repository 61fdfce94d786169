#!/bin/sh
# A QEMU for tests that fails the way nested KVM fails with OVMF, on any machine: the guest starts,
# runs for a second, then QEMU prints a KVM internal error and stops it, so that libvirt reports
# "paused (unknown)", as on a host whose KVM cannot emulate the firmware. Installed under a name
# containing "crash" it kills itself instead (libvirt: "shut off (crashed)"). Everything else about
# it is the real QEMU: libvirt's capability probes (no -name) pass straight through.
# scripts/testhost.sh installs it; a domain uses it with <emulator> in its devicesXml.
QEMU=/usr/bin/qemu-system-x86_64
case " $* " in *" -name "*) ;; *) exec "$QEMU" "$@" ;; esac
mode=pause
case "$0" in *crash*) mode=crash ;; esac
sock="/tmp/pulumi-ovmf-failing-qemu-$$.qmp"
# A second QMP monitor, beside libvirt's: wait until libvirt has let the guest run, then fail.
/usr/bin/python3 - "$sock" "$mode" "$$" <<'PY' &
import json, os, signal, socket, sys, time
path, mode, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    s = None
    for _ in range(300):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            break
        except OSError:
            s = None
            time.sleep(0.1)
    f = s.makefile("rw")
    f.readline()
    def cmd(name):
        f.write(json.dumps({"execute": name}) + "\n")
        f.flush()
        while True:
            m = json.loads(f.readline())
            if "return" in m or "error" in m:
                return m
    cmd("qmp_capabilities")
    for _ in range(600):
        if cmd("query-status").get("return", {}).get("status") == "running":
            break
        time.sleep(0.1)
    time.sleep(1)
    if mode == "crash":
        sys.stderr.write("qemu-system-x86_64: simulated crash: the emulator died\n")
        sys.stderr.flush()
        os.kill(pid, signal.SIGKILL)
    else:
        sys.stderr.write("KVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000001\nemulation failure\n"
                         "EAX=00000000 EBX=00807000 ECX=00000001 EDX=00807154\nES =0008 00000000 ffffffff 00c09300 DPL=0 DS   [-WA]\n"
                         "Code=66 90 90 cd 03 c3 66 90 <9b> db e3 d9 2d 74 ed fc ff\n")
        sys.stderr.flush()
        cmd("stop")
except Exception:
    pass
finally:
    try:
        os.unlink(path)
    except OSError:
        pass
PY
exec "$QEMU" "$@" -qmp "unix:$sock,server=on,wait=off"
