"""Recorded by launcher_record_cases.py from:
QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)
Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers"""

# flake8: noqa
CASES = {
    "default-machine": {"rc": "started", "stderr": ""},
    "pc": {"rc": "started", "stderr": ""},
    "q35": {"rc": "started", "stderr": ""},
    "pc-i440fx-7.2": {"rc": "started", "stderr": ""},
    "pc-q35-7.2": {"rc": "started", "stderr": ""},
    "pc-i440fx-2.0": {
        "rc": 1,
        "stderr": 'qemu-system-x86_64: unsupported machine type: "pc-i440fx-2.0"\n'
        "Use -machine help to list supported machines\n",
    },
    "pc-q35-2.4": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: Machine type 'pc-q35-2.4' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n",
    },
    "pc-1.0-deprecated": {
        "rc": 1,
        "stderr": 'qemu-system-x86_64: unsupported machine type: "pc-i440fx-1.4"\n'
        "Use -machine help to list supported machines\n",
    },
    "isapc": {"rc": "started", "stderr": ""},
    "microvm": {"rc": "started", "stderr": ""},
    "q35-no-such-version": {
        "rc": 1,
        "stderr": 'qemu-system-x86_64: unsupported machine type: "pc-q35-1.0"\n'
        "Use -machine help to list supported machines\n",
    },
    "irqchip-split-tcg": {"rc": "started", "stderr": ""},
    "irqchip-on-tcg": {"rc": "started", "stderr": ""},
    "irqchip-bad-tcg": {"rc": "started", "stderr": ""},
    "irqchip-accel-tcg": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: -accel tcg,kernel-irqchip=on: Property "
        "'tcg-accel.kernel-irqchip' not found\n",
    },
    "irqchip-bad-kvm": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: -accel kvm: can't apply global "
        "kvm-accel.kernel-irqchip=foo: Parameter 'kernel-irqchip' does not accept "
        "value 'foo'\n",
    },
    "irqchip-bad-accel-kvm": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: -accel kvm,kernel-irqchip=foo: Parameter "
        "'kernel-irqchip' does not accept value 'foo'\n",
    },
    "irqchip-bad-machine-accel-kvm": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global "
        "kvm-accel.kernel-irqchip=foo: Parameter 'kernel-irqchip' does "
        "not accept value 'foo'\n",
    },
    "irqchip-bool-kvm": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: -accel kvm: can't apply global "
        "kvm-accel.kernel-irqchip=yes: Parameter 'kernel-irqchip' does not accept "
        "value 'yes'\n",
    },
    "irqchip-on-kvm": {"rc": "started", "stderr": ""},
    "irqchip-split-kvm": {"rc": "started", "stderr": ""},
    "irqchip-off-kvm": {"rc": 1, "stderr": "qemu-system-x86_64: KVM does not support userspace APIC\n"},
    "irqchip-off-q35-kvm": {"rc": 1, "stderr": "qemu-system-x86_64: KVM does not support userspace APIC\n"},
    "irqchip-off-isapc-kvm": {"rc": 1, "stderr": "qemu-system-x86_64: KVM does not support userspace APIC\n"},
    "irqchip-accel-off-kvm": {"rc": 1, "stderr": "qemu-system-x86_64: KVM does not support userspace APIC\n"},
    "irqchip-accel-split-kvm": {"rc": "started", "stderr": ""},
    "libvirt-q35-host-kvm": {
        "rc": -6,
        "stderr": "qemu-system-x86_64: error: failed to set MSR 0x10a to 0xc000069\n"
        "qemu-system-x86_64: target/i386/kvm/kvm.c:3849: kvm_buf_set_msrs: "
        "Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n",
    },
    "libvirt-pc-tcg-named": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.01H:EDX.vme [bit 1]\n",
    },
    "machine-accel-kvm": {"rc": "started", "stderr": ""},
    "cpu-unknown": {"rc": 1, "stderr": "qemu-system-x86_64: unable to find CPU model 'nosuch'\n"},
    "cpu-empty": {"rc": 1, "stderr": "qemu-system-x86_64: -cpu option cannot be empty\n"},
    "cpu-named": {"rc": "started", "stderr": ""},
    "cpu-named-versioned": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.07H:EDX.spec-ctrl [bit 26]\n",
    },
    "cpu-plus-unknown": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: Property 'qemu64-x86_64-cpu.nosuch' not found\n",
    },
    "cpu-minus-unknown": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: Property 'qemu64-x86_64-cpu.nosuch' not found\n",
    },
    "cpu-prop-unknown": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global qemu64-x86_64-cpu.foo=bar: Property "
        "'qemu64-x86_64-cpu.foo' not found\n",
    },
    "cpu-feat-bad-bool": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global qemu64-x86_64-cpu.sse4.2=maybe: "
        "Parameter 'sse4.2' expects 'on' or 'off'\n",
    },
    "cpu-feat-on": {"rc": "started", "stderr": ""},
    "cpu-feat-underscore": {"rc": "started", "stderr": ""},
    "cpu-feat-bare": {"rc": "started", "stderr": ""},
    "cpu-feat-underscore-bad": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global "
        "qemu64-x86_64-cpu.sse4-2=maybe: Parameter 'sse4-2' expects 'on' or "
        "'off'\n",
    },
    "cpu-ambiguous": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: Ambiguous CPU model string. Don't mix both "
        '"-sse2" and "sse2=on"\n'
        "qemu-system-x86_64: warning: Ambiguous CPU model string. Don't mix both "
        '"+x2apic" and "x2apic=off"\n'
        "qemu-system-x86_64: warning: Compatibility of ambiguous CPU model strings "
        "won't be kept on future QEMU versions\n",
    },
    "cpu-level-range": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global qemu64-x86_64-cpu.level=-1: Parameter "
        "'level' expects uint32_t\n",
    },
    "cpu-vendor-bad": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global qemu64-x86_64-cpu.vendor=abc: value of "
        "property 'vendor' must consist of exactly 12 characters\n",
    },
    "cpu-none-machine": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: apic-id property was not initialized properly\n",
    },
    "cpu-none-machine-unknown": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: unable to find CPU model 'nosuch'\n",
    },
    "cpu-smp-warnings": {"rc": "started", "stderr": ""},
    "cpu-family-range": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global qemu64-x86_64-cpu.family=300: "
        "parameter 'family' can be at most 270\n",
    },
    "cpu-family-bad": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: can't apply global qemu64-x86_64-cpu.family=abc: "
        "Parameter 'family' expects uint64\n",
    },
    "cpu-host-tcg": {"rc": 1, "stderr": "qemu-system-x86_64: CPU model 'host' requires KVM or HVF\n"},
    "cpu-host-none-machine": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: apic-id property was not initialized properly\n",
    },
    "cpu-max-tcg": {"rc": "started", "stderr": ""},
    "cpu-tcg-filter": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.01H:ECX.pcid [bit 17]\n"
        "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.01H:ECX.tsc-deadline [bit 24]\n"
        "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.07H:EBX.hle [bit 4]\n"
        "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.07H:EBX.invpcid [bit 10]\n"
        "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.07H:EBX.rtm [bit 11]\n"
        "qemu-system-x86_64: warning: TCG doesn't support requested feature: "
        "CPUID.0DH:EAX.xsavec [bit 1]\n",
    },
    "cpu-tcg-x2apic": {"rc": "started", "stderr": ""},
    "cpu-tcg-enforce": {"rc": "started", "stderr": ""},
    "cpu-tcg-check-off": {"rc": "started", "stderr": ""},
    "cpu-tcg-enforce-ok": {"rc": "started", "stderr": ""},
    "cpu-tcg-max-x2apic": {"rc": "started", "stderr": ""},
    "cpu-tcg-kvm-feature": {"rc": "started", "stderr": ""},
    "cpu-kvm-qemu64": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pni [bit 0]\n",
    },
    "cpu-kvm-host": {
        "rc": -6,
        "stderr": "qemu-system-x86_64: error: failed to set MSR 0x10a to 0xc000069\n"
        "qemu-system-x86_64: target/i386/kvm/kvm.c:3849: kvm_buf_set_msrs: Assertion "
        "`ret == cpu->kvm_msr_buf->nmsrs' failed.\n",
    },
    "cpu-kvm-host-enforce": {
        "rc": -6,
        "stderr": "qemu-system-x86_64: error: failed to set MSR 0x10a to 0xc000069\n"
        "qemu-system-x86_64: target/i386/kvm/kvm.c:3849: kvm_buf_set_msrs: "
        "Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n",
    },
    "cpu-kvm-host-x2apic-off-enforce": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested "
        "feature: CPUID.01H:ECX.x2apic [bit 21]\n"
        "qemu-system-x86_64: Host doesn't support requested "
        "features\n",
    },
    "cpu-kvm-msi-ext-on": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.40000001H:EAX.kvm-msi-ext-dest-id [bit 15]\n",
    },
    "cpu-kvm-smp-off": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.40000001H:EAX.kvm-pv-unhalt [bit 7]\n"
        "qemu-system-x86_64: KVM does not support userspace APIC\n",
    },
    "cpu-kvm-pv-unhalt-off": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.40000001H:EAX.kvm-pv-unhalt [bit 7]\n"
        "qemu-system-x86_64: KVM does not support userspace APIC\n",
    },
    "cpu-kvm-skylake": {
        "rc": "started",
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pni [bit 0]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pclmulqdq [bit 1]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.ssse3 [bit 9]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.fma [bit 12]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pcid [bit 17]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.sse4.1 [bit 19]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.sse4.2 [bit 20]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.movbe [bit 22]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.popcnt [bit 23]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.aes [bit 25]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.xsave [bit 26]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.avx [bit 28]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.f16c [bit 29]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.rdrand [bit 30]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.fsgsbase [bit 0]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.bmi1 [bit 3]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.hle [bit 4]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.avx2 [bit 5]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.smep [bit 7]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.bmi2 [bit 8]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.invpcid [bit 10]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.rtm [bit 11]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.rdseed [bit 18]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.adx [bit 19]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.smap [bit 20]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.80000001H:EDX.rdtscp [bit 27]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.80000001H:ECX.abm [bit 5]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.0DH:EAX.xsaveopt [bit 0]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.0DH:EAX.xsavec [bit 1]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.0DH:EAX.xgetbv1 [bit 2]\n",
    },
    "cpu-kvm-skylake-enforce": {
        "rc": 1,
        "stderr": "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pni [bit 0]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pclmulqdq [bit 1]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.ssse3 [bit 9]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.fma [bit 12]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.pcid [bit 17]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.sse4.1 [bit 19]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.sse4.2 [bit 20]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.movbe [bit 22]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.popcnt [bit 23]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.aes [bit 25]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.xsave [bit 26]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.avx [bit 28]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.f16c [bit 29]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.01H:ECX.rdrand [bit 30]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.fsgsbase [bit 0]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.bmi1 [bit 3]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.hle [bit 4]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.avx2 [bit 5]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.smep [bit 7]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.bmi2 [bit 8]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.invpcid [bit 10]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.rtm [bit 11]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.rdseed [bit 18]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.adx [bit 19]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.07H:EBX.smap [bit 20]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.80000001H:EDX.rdtscp [bit 27]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.80000001H:ECX.abm [bit 5]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.0DH:EAX.xsaveopt [bit 0]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.0DH:EAX.xsavec [bit 1]\n"
        "qemu-system-x86_64: warning: host doesn't support requested feature: "
        "CPUID.0DH:EAX.xgetbv1 [bit 2]\n"
        "qemu-system-x86_64: Host doesn't support requested features\n",
    },
}
