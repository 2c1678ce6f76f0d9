"""x86_64 command lines with features held in MSRs (issue 11): ``vmx-*``, the
IA32_ARCH_CAPABILITIES / CORE_CAPABILITY / PERF_CAPABILITIES bits, under KVM on the AMD EPYC
machine whose feature MSRs ``models/x86_64/hosts/capture-amd-epyc-6.18.yaml`` holds (its KVM
offers rdctl-no, skip-l1dfl-vmentry, mds-no and pschange-mc-no, nothing else, no VMX), and under
TCG (which offers none of them).

Format of ``tests/unit/launcher/launcher_cmdline_inputs.py``; recorded with
``launcher_record_cases.py --emulator /usr/bin/qemu-system-x86_64 --inputs
tests/unit/x86_64/x86_msr_cmdline_inputs.py -o tests/unit/x86_64/x86_msr_cmdline_cases.py``
on that machine; ``test_x86_msr_features.py`` runs them through the launcher on profile
``x86-capture-amd-epyc-6.18``.  Not here: ``-cpu host`` with an MSR feature, on which this QEMU
aborts on that machine (``failed to set MSR 0x10a``, an assertion in ``kvm_buf_set_msrs``).
"""

B = ["-S", "-nodefaults", "-display", "none"]
TCG = B + ["-accel", "tcg"]
KVM = B + ["-accel", "kvm"]

INPUTS = [
    # a prerequisite off: "This feature depends on other features that were not requested"
    ("vmx-ept-no-vmx-kvm", KVM + ["-cpu", "qemu64,+vmx-ept"]),
    ("ibrs-all-no-archcap-kvm", KVM + ["-cpu", "qemu64,+ibrs-all,-pni"]),
    (
        "chain-kvm",
        KVM + ["-cpu", "qemu64,-pni,+vmx-invvpid,+split-lock-detect,+full-width-write,+vmx-eptp-switching"],
    ),
    ("depends-enforce-kvm", KVM + ["-cpu", "qemu64,-pni,+ibrs-all,enforce"]),
    ("depends-check-off-kvm", KVM + ["-cpu", "qemu64,-pni,+vmx-ept,check=off"]),
    # the host's IA32_ARCH_CAPABILITIES
    (
        "archcap-offered-kvm",
        KVM
        + ["-cpu", "qemu64,-pni,+arch-capabilities,+rdctl-no,+mds-no,+skip-l1dfl-vmentry,+pschange-mc-no"],
    ),
    (
        "archcap-missing-kvm",
        KVM + ["-cpu", "qemu64,-pni,+arch-capabilities,+rdctl-no,+ibrs-all,+rsba,+taa-no,+tsx-ctrl,+ssb-no"],
    ),
    ("archcap-eq-kvm", KVM + ["-cpu", "qemu64,-pni,arch-capabilities=on,ibrs_all=on,mds-no=on"]),
    ("archcap-enforce-kvm", KVM + ["-cpu", "qemu64,-pni,+arch-capabilities,+ibrs-all,enforce"]),
    ("archcap-check-off-kvm", KVM + ["-cpu", "qemu64,-pni,+arch-capabilities,+ibrs-all,check=off"]),
    ("corecap-kvm", KVM + ["-cpu", "qemu64,-pni,+core-capability,+split-lock-detect"]),
    ("perfcap-kvm", KVM + ["-cpu", "qemu64,-pni,+pdcm,+full-width-write"]),
    # VMX: this machine's KVM has no nested VMX (no VMX feature MSRs)
    (
        "vmx-kvm",
        KVM
        + [
            "-cpu",
            "qemu64,-pni,+vmx,+vmx-ept,+vmx-invept-single-context,+vmx-invvpid,+vmx-true-ctls,+vmx-activity-hlt,+vmx-eptp-switching,+vmx-vmfunc,+vmx-secondary-ctls",
        ],
    ),
    (
        "vmx-vpid-kvm",
        KVM + ["-cpu", "qemu64,-pni,+vmx,+vmx-secondary-ctls,+vmx-vpid,+vmx-invept-single-context"],
    ),
    # named models with MSR features
    ("cascadelake-v2-kvm", KVM + ["-M", "q35", "-cpu", "Cascadelake-Server-v2"]),
    ("icelake-v4-kvm", KVM + ["-cpu", "Icelake-Server-v4,enforce"]),
    ("snowridge-kvm", KVM + ["-cpu", "Snowridge"]),
    ("skylake-vmx-kvm", KVM + ["-cpu", "Skylake-Client-IBRS,vmx=on"]),
    ("cooperlake-kvm", KVM + ["-cpu", "Cooperlake"]),
    ("snowridge-2cpu-kvm", KVM + ["-smp", "2", "-cpu", "Snowridge"]),
    ("epyc-rome-kvm", KVM + ["-cpu", "EPYC-Rome,+arch-capabilities,+rdctl-no"]),
    (
        "kvm-irqchip-off",
        KVM + ["-M", "pc,kernel-irqchip=off", "-cpu", "qemu64,-pni,+arch-capabilities,+ibrs-all"],
    ),
    # TCG offers none of the MSR features
    ("archcap-tcg", TCG + ["-cpu", "qemu64,+arch-capabilities,+rdctl-no,+ibrs-all"]),
    ("vmx-tcg", TCG + ["-cpu", "qemu64,+vmx,+vmx-ept,+vmx-secondary-ctls"]),
    ("vmx-no-vmx-tcg", TCG + ["-cpu", "qemu64,+vmx-ept"]),
    ("tcg-enforce", TCG + ["-cpu", "qemu64,+arch-capabilities,+mds-no,enforce"]),
    ("cascadelake-v2-tcg", TCG + ["-cpu", "Cascadelake-Server-v2"]),
]
