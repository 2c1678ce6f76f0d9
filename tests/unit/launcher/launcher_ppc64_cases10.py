"""Recorded by launcher_record_cases.py from:
QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)
Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers"""

# flake8: noqa
CASES = {
    "pseries-default": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
            "vsmt": 1,
            "ic-mode": "dual",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "pseries-alias-7.2": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-7.1": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-6.2": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-6.2' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
            "vsmt": 1,
            "ic-mode": "dual",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "pseries-5.2": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-5.2' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-4.2": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-4.2' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": False,
            "cap-fwnmi": False,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-4.0": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-4.0' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": False,
            "cap-fwnmi": False,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
            "vsmt": 8,
            "ic-mode": "xics",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "pseries-3.1": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-3.1' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "broken",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": False,
            "cap-fwnmi": False,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-3.0": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-3.0' is deprecated: machines "
        "more than 3 years old are subject to deletion after 6 years\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "broken",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": False,
            "cap-fwnmi": False,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-2.12": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.12"\n'
        "Use -machine help to list supported machines\n",
    },
    "pseries-2.12-sxxm": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.12-sxxm"\n'
        "Use -machine help to list supported machines\n",
    },
    "pseries-2.11-htm-refused": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.11"\n'
        "Use -machine help to list supported machines\n",
    },
    "pseries-2.11-htm-off": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.11"\n'
        "Use -machine help to list supported machines\n",
    },
    "pseries-2.1-htm-off": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.1"\n'
        "Use -machine help to list supported machines\n",
    },
    "pseries-2.1-power7": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.1"\n'
        "Use -machine help to list supported machines\n",
    },
    "quiet": {
        "rc": "started",
        "stderr": "",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "broken",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": False,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "cfpc-fixed-upper": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=fixed\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-cfpc": "fixed"},
    },
    "sbbc-broken": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-sbbc": "broken"},
    },
    "ibs-fixed-ccd": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=fixed-ccd\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-ibs": "fixed-ccd"},
    },
    "ibs-fixed-na": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=fixed-na\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-ibs": "fixed-na"},
    },
    "cfpc-bad": {"rc": 1, "stderr": 'qemu-system-ppc64: Invalid capability mode "nosuch" for cap-cfpc\n'},
    "cfpc-help": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: broken - no protection, workaround - workaround available, "
        "fixed - fixed in hardware\n",
    },
    "ibs-help": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: broken - no protection, workaround - count cache flush, "
        "fixed-ibs - indirect branch serialisation, fixed-ccd - cache count disabled, "
        "fixed-na - fixed in hardware (no longer applicable)\n",
    },
    "htm-not-bool": {"rc": 1, "stderr": "qemu-system-ppc64: Parameter 'cap-htm' expects 'on' or 'off'\n"},
    "htm-yes": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-htm": False, "cap-vsx": True},
    },
    "pagesize-4k-warns": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: Many guests require at least 64kiB "
        "hpt-max-page-size\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-hpt-max-page-size": 4096},
    },
    "pagesize-16m": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-hpt-max-page-size": 16777216},
    },
    "pagesize-bytes": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-hpt-max-page-size": 65536},
    },
    "pagesize-2k-refused": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: Require at least 4kiB hpt-max-page-size\n",
    },
    "pagesize-not-pow2": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: cap-hpt-max-page-size must be a power of 2\n",
    },
    "pagesize-zero": {"rc": 1, "stderr": "qemu-system-ppc64: cap-hpt-max-page-size must be a power of 2\n"},
    "pagesize-not-size": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: Parameter 'cap-hpt-max-page-size' expects size\n",
    },
    "htm-on": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: No Transactional Memory support in TCG\n"
        "Try appending -machine cap-htm=off\n",
    },
    "nested-hv-on": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-nested-hv": True},
    },
    "rpt-invalidate-on": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: No H_RPT_INVALIDATE support in TCG\n"
        "Try appending -machine cap-rpt-invalidate=off\n",
    },
    "fwnmi-off": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-fwnmi": False},
    },
    "large-decr-power8": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: Large decrementer only supported on POWER9\n"
        "Try -cpu POWER9\n",
    },
    "large-decr-off-power8": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-large-decr": False},
    },
    "vsx-on-970": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: VSX support not available\nTry appending -machine cap-vsx=off\n",
    },
    "dfp-on-970": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: DFP support not available\nTry appending -machine cap-dfp=off\n",
    },
    "ccf-assist-off": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n",
        "qom": {"cap-ccf-assist": False},
    },
    "htm-and-rpt": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: No Transactional Memory support in TCG\n"
        "Try appending -machine cap-htm=off\n",
    },
    "pagesize-warn-then-rpt": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: Many guests require at least 64kiB "
        "hpt-max-page-size\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: No H_RPT_INVALIDATE support in TCG\n"
        "Try appending -machine cap-rpt-invalidate=off\n",
    },
    "later-value-wins": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-htm": False},
    },
    "cpu-power8": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "cpu-power7": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-sbbc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "workaround",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": False,
            "cap-nested-papr": False,
            "cap-dawr1": False,
            "vsmt": 1,
            "ic-mode": "xics",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "cpu-970": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": False,
            "cap-dfp": False,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "broken",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": False,
            "cap-nested-papr": False,
            "cap-dawr1": False,
            "vsmt": 1,
            "ic-mode": "xics",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "cpu-power5": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": False,
            "cap-dfp": False,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "broken",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": False,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "cpu-power10": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "cpu-max": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "cpu-upper": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
    },
    "cpu-upper-versioned": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
    },
    "cpu-pvr": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
    },
    "cpu-pvr-0x": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
    },
    "cpu-pvr-0X": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model '0X004E1200'\n"},
    "cpu-pvr-7": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model '04e1200'\n"},
    "cpu-pvr-unknown": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model '12345678'\n"},
    "cpu-nosuch": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model 'nosuch'\n"},
    "cpu-host-tcg": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model 'host'\n"},
    "cpu-empty": {"rc": 1, "stderr": "qemu-system-ppc64: -cpu option cannot be empty\n"},
    "cpu-not-spapr": {"rc": 1, "stderr": "qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n"},
    "cpu-none-machine": {"rc": "started", "stderr": ""},
    "cpu-none-machine-max": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model 'max'\n"},
    "cpu-none-machine-nosuch": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model 'nosuch'\n"},
    "cpu-before-caps": {"rc": 1, "stderr": "qemu-system-ppc64: unable to find CPU model 'nosuch'\n"},
    "cpu-prop-unknown": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: can't apply global power9_v2.2-powerpc64-cpu.foo=1: "
        "Property 'power9_v2.2-powerpc64-cpu.foo' not found\n",
    },
    "cpu-prop-unknown-alias-case": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: can't apply global "
        "power9_v2.2-powerpc64-cpu.foo=1: Property "
        "'power9_v2.2-powerpc64-cpu.foo' not found\n",
    },
    "cpu-prop-bool-bad": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: can't apply global "
        "power9_v2.2-powerpc64-cpu.pre-3.0-migration=maybe: Property "
        "'power9_v2.2-powerpc64-cpu.pre-3.0-migration' not found\n",
    },
    "cpu-prop-bool-ok": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: can't apply global "
        "power9_v2.2-powerpc64-cpu.pre-3.0-migration=on: Property "
        "'power9_v2.2-powerpc64-cpu.pre-3.0-migration' not found\n",
    },
    "cpu-prop-not-key-value": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: Expected key=value format, found foo.\n",
    },
    "cpu-prop-plus": {"rc": 1, "stderr": "qemu-system-ppc64: Expected key=value format, found +foo.\n"},
    "cpu-prop-after-smt": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: can't apply global power9_v2.2-powerpc64-cpu.foo=1: "
        "Property 'power9_v2.2-powerpc64-cpu.foo' not found\n",
    },
    "cpu-prop-not-spapr": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n",
    },
    "cpu-prop-before-caps": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: can't apply global power9_v2.2-powerpc64-cpu.foo=1: "
        "Property 'power9_v2.2-powerpc64-cpu.foo' not found\n",
    },
    "cpu-last-wins": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
    },
    "tcg-smt": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
    },
    "tcg-smt-before-caps": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: No Transactional Memory support in TCG\n"
        "Try appending -machine cap-htm=off\n",
    },
    "tcg-smt-not-spapr": {"rc": 1, "stderr": "qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n"},
    "smt-one-thread": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"vsmt": 1},
    },
    "vsmt-set": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"vsmt": 4},
    },
    "compat-power8": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
            "vsmt": 1,
            "ic-mode": "xics",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "power8",
        },
    },
    "compat-power7": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": False,
            "cap-nested-papr": False,
            "cap-dawr1": False,
            "vsmt": 1,
            "ic-mode": "xics",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "power7",
        },
    },
    "compat-power6-970": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: Compatibility PVR 0x0f000002 not valid for CPU\n",
    },
    "compat-power10-on-power10": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "compat-above-cpu": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: Compatibility PVR 0x0f000005 not valid for CPU\n",
    },
    "compat-power10-default-cpu": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested "
        "feature, cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested "
        "feature, cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested "
        "feature, cap-ccf-assist=on\n",
    },
    "compat-upper": {"rc": 1, "stderr": 'qemu-system-ppc64: Invalid compatibility mode "POWER8"\n'},
    "compat-bad": {"rc": 1, "stderr": 'qemu-system-ppc64: Invalid compatibility mode "nosuch"\n'},
    "compat-2.11-power7": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: unsupported machine type: "pseries-2.11"\n'
        "Use -machine help to list supported machines\n",
    },
    "compat-large-decr": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: Large decrementer only supported on POWER9\n"
        "Try -cpu POWER9\n",
    },
    "compat-cmdline-wins": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-cfpc": "workaround"},
    },
    "pseries-10.0": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
            "vsmt": 1,
            "ic-mode": "dual",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "pseries-9.2": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "pseries-8.0": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "pseries-7.2-on-10": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "deprecated-3.0": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-3.0' is deprecated: "
        "machines more than 3 years old are subject to deletion after 6 years\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "broken",
            "cap-ibs": "broken",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": False,
            "cap-fwnmi": False,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "deprecated-then-cpu-error": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-3.0' is "
        "deprecated: machines more than 3 years old are subject to deletion "
        "after 6 years\n"
        "qemu-system-ppc64: unable to find CPU model 'nosuch'\n",
    },
    "deprecated-then-cpu-prop": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-3.0' is "
        "deprecated: machines more than 3 years old are subject to deletion "
        "after 6 years\n"
        "qemu-system-ppc64: can't apply global "
        "power9_v2.2-powerpc64-cpu.foo=1: Property "
        "'power9_v2.2-powerpc64-cpu.foo' not found\n",
    },
    "deprecated-then-cap-error": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: Machine type 'pseries-3.0' is "
        "deprecated: machines more than 3 years old are subject to deletion "
        "after 6 years\n"
        "qemu-system-ppc64: No Transactional Memory support in TCG\n"
        "Try appending -machine cap-htm=off\n",
    },
    "deprecated-cap-parse-error": {
        "rc": 1,
        "stderr": 'qemu-system-ppc64: Invalid capability mode "nosuch" for cap-cfpc\n',
    },
    "ail-off": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-ail-mode-3": False},
    },
    "ail-on-970": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: TCG only supports cap-ail-mode-3 on POWER8 and later CPUs\n"
        "Try appending -machine cap-ail-mode-3=off\n",
    },
    "ail-default-power7": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-sbbc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "broken",
            "cap-sbbc": "workaround",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": False,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": False,
            "cap-nested-papr": False,
            "cap-dawr1": False,
        },
    },
    "ail-on-power8": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-ail-mode-3": True},
    },
    "dawr1-default-power10": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-dawr1": True},
    },
    "dawr1-on-power9": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: DAWR1 supported only on POWER10 and later CPUs\n"
        "Try appending -machine cap-dawr1=off\n",
    },
    "dawr1-off": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-dawr1": False},
    },
    "dawr1-compat-power9": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: DAWR1 supported only on POWER10 and later CPUs\n"
        "Try appending -machine cap-dawr1=off\n",
    },
    "nested-papr-on": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-nested-papr": True, "cap-nested-hv": False},
    },
    "nested-papr-on-power8": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: Nested-PAPR only supported on POWER9 and later\n"
        "Try appending -machine cap-nested-papr=off\n",
    },
    "nested-hv-and-papr": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n"
        "qemu-system-ppc64: Nested-HV APIs are mutually exclusive\n"
        "Please use either cap-nested-hv or cap-nested-papr to proceed.\n",
    },
    "nested-hv-and-papr-power8": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: Nested-HV only supported on POWER9 and later\n"
        "Try appending -machine cap-nested-hv=off\n",
    },
    "nested-papr-bad": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: Parameter 'cap-nested-papr' expects 'on' or 'off'\n",
    },
    "cpu-power11": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
            "vsmt": 1,
            "ic-mode": "dual",
            "kvm-type": "auto",
            "resize-hpt": "enabled",
            "max-cpu-compat": "",
        },
    },
    "cpu-power11-pvr": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-dawr1": True},
    },
    "cpu-power9-alias": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"cap-large-decr": True},
    },
    "compat-power11-default-cpu": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested "
        "feature, cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested "
        "feature, cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested "
        "feature, cap-ccf-assist=on\n"
        "qemu-system-ppc64: Compatibility PVR 0x0f000007 not valid for "
        "CPU\n",
    },
    "compat-power11-on-power11": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "compat-power10-on-power11": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {
            "cap-htm": False,
            "cap-vsx": True,
            "cap-dfp": True,
            "cap-cfpc": "workaround",
            "cap-sbbc": "broken",
            "cap-ibs": "workaround",
            "cap-hpt-max-page-size": 65536,
            "cap-nested-hv": False,
            "cap-large-decr": True,
            "cap-ccf-assist": True,
            "cap-fwnmi": True,
            "cap-rpt-invalidate": False,
            "cap-ail-mode-3": True,
            "cap-nested-papr": False,
            "cap-dawr1": True,
        },
    },
    "smt-2": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ccf-assist=on\n",
        "qom": {"vsmt": 2},
    },
    "smt-4-quiet": {"rc": "started", "stderr": "", "qom": {"vsmt": 4}},
    "smt-nested-hv": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: TCG does not support nested-HV with SMT\n"
        "Try appending -machine cap-nested-hv=off or use threads=1 with -smp\n",
    },
    "smt-power7": {"rc": 1, "stderr": "qemu-system-ppc64: TCG only supports SMT on POWER8 or newer CPUs\n"},
    "smt-power8": {"rc": "started", "stderr": "", "qom": {"vsmt": 2}},
    "smt-power7-before-caps": {
        "rc": 1,
        "stderr": "qemu-system-ppc64: TCG only supports SMT on POWER8 or newer CPUs\n",
    },
    "smt-not-spapr": {"rc": 1, "stderr": "qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n"},
    "smt-vsmt-set": {
        "rc": "started",
        "stderr": "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-cfpc=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ibs=workaround\n"
        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
        "cap-ccf-assist=on\n",
        "qom": {"vsmt": 8},
    },
}
