"""x86_64 command lines for the launcher's differential test (issue 11).

Each entry is ``(case id, argv)``, in the format of
``tests/unit/launcher/launcher_cmdline_inputs.py``.  ``launcher_record_cases.py --emulator
/usr/bin/qemu-system-x86_64 --inputs x86_cmdline_inputs -o x86_cmdline_cases.py`` records what
Debian's qemu-system-x86_64 7.2 printed and its exit status; ``test_x86_launcher_cmdline.py``
compares the launcher (profile ``qemu-7.2-debian-x86_64``, captured from that binary on this
KVM host) with the recording, and the recording with the real binary when it is installed.
Cases that need KVM say so in their id (``kvm``); their warnings depend on the host's CPUID
(this nested host's KVM has no SSE3, so ``qemu64`` under KVM warns about ``pni``).  Not here:
``-cpu host,+x2apic`` with ``kernel-irqchip=off``, on which this QEMU aborts (an assertion in
``kvm_buf_set_msrs``: a crash of the binary, not a rule).
"""

B = ["-S", "-nodefaults", "-display", "none"]
TCG = B + ["-accel", "tcg"]
KVM = B + ["-accel", "kvm"]

INPUTS = [
    # machines: the default, the aliases, every version keeps starting
    ("default-machine", B),
    ("pc", TCG + ["-M", "pc"]),
    ("q35", TCG + ["-M", "q35"]),
    ("pc-i440fx-7.2", TCG + ["-M", "pc-i440fx-7.2"]),
    ("pc-q35-7.2", TCG + ["-M", "pc-q35-7.2"]),
    ("pc-i440fx-2.0", TCG + ["-M", "pc-i440fx-2.0"]),
    ("pc-q35-2.4", TCG + ["-M", "pc-q35-2.4"]),
    ("pc-1.0-deprecated", TCG + ["-M", "pc-i440fx-1.4"]),
    ("isapc", TCG + ["-M", "isapc"]),
    ("microvm", TCG + ["-M", "microvm"]),
    ("q35-no-such-version", TCG + ["-M", "pc-q35-1.0"]),
    # kernel-irqchip: a KVM property; under TCG -machine's copy is ignored, -accel's refused
    ("irqchip-split-tcg", TCG + ["-M", "pc,kernel-irqchip=split"]),
    ("irqchip-on-tcg", TCG + ["-M", "q35,kernel-irqchip=on"]),
    ("irqchip-bad-tcg", TCG + ["-M", "pc,kernel-irqchip=foo"]),
    ("irqchip-accel-tcg", B + ["-accel", "tcg,kernel-irqchip=on"]),
    ("irqchip-bad-kvm", KVM + ["-M", "pc,kernel-irqchip=foo"]),
    ("irqchip-bad-accel-kvm", B + ["-accel", "kvm,kernel-irqchip=foo"]),
    ("irqchip-bad-machine-accel-kvm", B + ["-M", "pc,accel=kvm,kernel-irqchip=foo"]),
    ("irqchip-bool-kvm", KVM + ["-M", "q35,kernel-irqchip=yes", "-cpu", "qemu64,-pni"]),
    ("irqchip-on-kvm", KVM + ["-M", "q35,kernel-irqchip=on", "-cpu", "qemu64,-pni"]),
    ("irqchip-split-kvm", KVM + ["-M", "q35,kernel-irqchip=split", "-cpu", "qemu64,-pni"]),
    ("irqchip-off-kvm", KVM + ["-M", "pc,kernel-irqchip=off", "-cpu", "qemu64,-pni"]),
    ("irqchip-off-q35-kvm", KVM + ["-M", "q35,kernel-irqchip=off", "-cpu", "qemu64,-pni"]),
    ("irqchip-off-isapc-kvm", KVM + ["-M", "isapc,kernel-irqchip=off", "-cpu", "qemu64,-pni"]),
    ("irqchip-accel-off-kvm", B + ["-accel", "kvm,kernel-irqchip=off", "-M", "pc", "-cpu", "qemu64,-pni"]),
    (
        "irqchip-accel-split-kvm",
        B + ["-accel", "kvm,kernel-irqchip=split", "-M", "q35", "-cpu", "qemu64,-pni"],
    ),
    (
        "libvirt-q35-host-kvm",
        B
        + ["-machine", "pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off", "-accel", "kvm"]
        + ["-cpu", "host,migratable=on", "-m", "512", "-smp", "2,sockets=2,cores=1,threads=1"],
    ),
    (
        "libvirt-pc-tcg-named",
        B
        + ["-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off", "-accel", "tcg"]
        + ["-cpu", "Nehalem,vme=on,x2apic=on,hypervisor=on", "-m", "256", "-smp", "1"],
    ),
    ("machine-accel-kvm", B + ["-M", "pc,accel=kvm", "-cpu", "qemu64,-pni"]),
    # -cpu: lookup, feature syntax, properties
    ("cpu-unknown", TCG + ["-M", "pc", "-cpu", "nosuch"]),
    ("cpu-empty", TCG + ["-M", "pc", "-cpu", ""]),
    ("cpu-named", TCG + ["-M", "pc", "-cpu", "qemu64"]),
    ("cpu-named-versioned", TCG + ["-M", "q35", "-cpu", "Nehalem-v2"]),
    ("cpu-plus-unknown", TCG + ["-M", "pc", "-cpu", "qemu64,+nosuch"]),
    ("cpu-minus-unknown", TCG + ["-M", "pc", "-cpu", "qemu64,-nosuch"]),
    ("cpu-prop-unknown", TCG + ["-M", "pc", "-cpu", "qemu64,foo=bar"]),
    ("cpu-feat-bad-bool", TCG + ["-M", "pc", "-cpu", "qemu64,sse4.2=maybe"]),
    ("cpu-feat-on", TCG + ["-M", "pc", "-cpu", "qemu64,sse4.2=on"]),
    ("cpu-feat-underscore", TCG + ["-M", "pc", "-cpu", "qemu64,+sse4_2"]),
    ("cpu-feat-bare", TCG + ["-M", "pc", "-cpu", "qemu64,sse4.2"]),
    ("cpu-feat-underscore-bad", TCG + ["-M", "pc", "-cpu", "qemu64,sse4_2=maybe"]),
    ("cpu-ambiguous", TCG + ["-M", "pc", "-cpu", "qemu64,-sse2,sse2=on,+x2apic,x2apic=off"]),
    ("cpu-level-range", TCG + ["-M", "pc", "-cpu", "qemu64,level=-1"]),
    ("cpu-vendor-bad", TCG + ["-M", "pc", "-cpu", "qemu64,vendor=abc"]),
    ("cpu-none-machine", TCG + ["-M", "none", "-cpu", "qemu64"]),
    ("cpu-none-machine-unknown", TCG + ["-M", "none", "-cpu", "nosuch"]),
    ("cpu-smp-warnings", TCG + ["-M", "q35", "-smp", "2", "-cpu", "qemu64,+x2apic"]),
    ("cpu-family-range", TCG + ["-M", "pc", "-cpu", "qemu64,family=300"]),
    ("cpu-family-bad", TCG + ["-M", "pc", "-cpu", "qemu64,family=abc"]),
    ("cpu-host-tcg", TCG + ["-M", "pc", "-cpu", "host"]),
    ("cpu-host-none-machine", TCG + ["-M", "none", "-cpu", "host"]),
    ("cpu-max-tcg", TCG + ["-M", "q35", "-cpu", "max"]),
    # TCG's feature set: filtered with warnings, enforce fails
    ("cpu-tcg-filter", TCG + ["-M", "pc", "-cpu", "Skylake-Client"]),
    ("cpu-tcg-x2apic", TCG + ["-M", "pc", "-cpu", "qemu64,+x2apic"]),
    ("cpu-tcg-enforce", TCG + ["-M", "pc", "-cpu", "qemu64,+x2apic,enforce"]),
    ("cpu-tcg-check-off", TCG + ["-M", "pc", "-cpu", "qemu64,+x2apic,check=off"]),
    ("cpu-tcg-enforce-ok", TCG + ["-M", "pc", "-cpu", "qemu64,enforce"]),
    ("cpu-tcg-max-x2apic", TCG + ["-M", "pc", "-cpu", "max,+x2apic"]),
    ("cpu-tcg-kvm-feature", TCG + ["-M", "pc", "-cpu", "qemu64,kvm-pv-unhalt=on,enforce"]),
    # KVM: the host's CPUID and the irqchip
    ("cpu-kvm-qemu64", KVM + ["-M", "pc", "-cpu", "qemu64"]),
    ("cpu-kvm-host", KVM + ["-M", "q35", "-cpu", "host"]),
    ("cpu-kvm-host-enforce", KVM + ["-M", "q35", "-cpu", "host,enforce"]),
    (
        "cpu-kvm-host-x2apic-off-enforce",
        KVM + ["-M", "pc,kernel-irqchip=off", "-cpu", "host,+x2apic,enforce"],
    ),
    ("cpu-kvm-msi-ext-on", KVM + ["-M", "q35", "-cpu", "qemu64,-pni,kvm-msi-ext-dest-id=on"]),
    (
        "cpu-kvm-smp-off",
        KVM + ["-M", "pc,kernel-irqchip=off", "-smp", "2", "-cpu", "qemu64,-pni,kvm-pv-unhalt=on"],
    ),
    ("cpu-kvm-pv-unhalt-off", KVM + ["-M", "pc,kernel-irqchip=off", "-cpu", "qemu64,-pni,kvm-pv-unhalt=on"]),
    ("cpu-kvm-skylake", KVM + ["-M", "q35", "-cpu", "Skylake-Client"]),
    ("cpu-kvm-skylake-enforce", KVM + ["-M", "q35", "-cpu", "Skylake-Client,enforce"]),
]
