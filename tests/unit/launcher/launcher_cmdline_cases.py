"""Recorded by launcher_record_cases.py from:
QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)
Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers"""

# flake8: noqa
CASES = {'invalid-option': {'rc': 1, 'stderr': 'qemu-system-aarch64: -foo: invalid option\n'},
 'invalid-option-after-valid': {'rc': 1, 'stderr': 'qemu-system-aarch64: -bar: invalid option\n'},
 'invalid-double-dash': {'rc': 1, 'stderr': 'qemu-system-aarch64: --nosuch: invalid option\n'},
 'lone-dash': {'rc': 1, 'stderr': 'qemu-system-aarch64: -: invalid option\n'},
 'question-mark': {'rc': 1, 'stderr': 'qemu-system-aarch64: -?: invalid option\n'},
 'requires-arg-machine': {'rc': 1, 'stderr': 'qemu-system-aarch64: -machine: requires an argument\n'},
 'requires-arg-M': {'rc': 1, 'stderr': 'qemu-system-aarch64: -M: requires an argument\n'},
 'requires-arg-m': {'rc': 1, 'stderr': 'qemu-system-aarch64: -m: requires an argument\n'},
 'requires-arg-smp': {'rc': 1, 'stderr': 'qemu-system-aarch64: -smp: requires an argument\n'},
 'requires-arg-uuid': {'rc': 1, 'stderr': 'qemu-system-aarch64: -uuid: requires an argument\n'},
 'requires-arg-cpu': {'rc': 1, 'stderr': 'qemu-system-aarch64: -cpu: requires an argument\n'},
 'requires-arg-accel': {'rc': 1, 'stderr': 'qemu-system-aarch64: -accel: requires an argument\n'},
 'requires-arg-qmp': {'rc': 1, 'stderr': 'qemu-system-aarch64: -qmp: requires an argument\n'},
 'requires-arg-chardev': {'rc': 1, 'stderr': 'qemu-system-aarch64: -chardev: requires an argument\n'},
 'requires-arg-mon': {'rc': 1, 'stderr': 'qemu-system-aarch64: -mon: requires an argument\n'},
 'requires-arg-pidfile': {'rc': 1, 'stderr': 'qemu-system-aarch64: -pidfile: requires an argument\n'},
 'requires-arg-incoming': {'rc': 1, 'stderr': 'qemu-system-aarch64: -incoming: requires an argument\n'},
 'requires-arg-object': {'rc': 1, 'stderr': 'qemu-system-aarch64: -object: requires an argument\n'},
 'requires-arg-device': {'rc': 1, 'stderr': 'qemu-system-aarch64: -device: requires an argument\n'},
 'requires-arg-blockdev': {'rc': 1, 'stderr': 'qemu-system-aarch64: -blockdev: requires an argument\n'},
 'requires-arg-netdev': {'rc': 1, 'stderr': 'qemu-system-aarch64: -netdev: requires an argument\n'},
 'requires-arg-rtc': {'rc': 1, 'stderr': 'qemu-system-aarch64: -rtc: requires an argument\n'},
 'requires-arg-boot': {'rc': 1, 'stderr': 'qemu-system-aarch64: -boot: requires an argument\n'},
 'requires-arg-msg': {'rc': 1, 'stderr': 'qemu-system-aarch64: -msg: requires an argument\n'},
 'requires-arg-sandbox': {'rc': 1, 'stderr': 'qemu-system-aarch64: -sandbox: requires an argument\n'},
 'requires-arg-overcommit': {'rc': 1, 'stderr': 'qemu-system-aarch64: -overcommit: requires an argument\n'},
 'requires-arg-display': {'rc': 1, 'stderr': 'qemu-system-aarch64: -display: requires an argument\n'},
 'requires-arg-global': {'rc': 1, 'stderr': 'qemu-system-aarch64: -global: requires an argument\n'},
 'requires-arg-name': {'rc': 1, 'stderr': 'qemu-system-aarch64: -name: requires an argument\n'},
 'requires-arg-compat': {'rc': 1, 'stderr': 'qemu-system-aarch64: -compat: requires an argument\n'},
 'requires-arg-audiodev': {'rc': 1, 'stderr': 'qemu-system-aarch64: -audiodev: requires an argument\n'},
 'requires-arg-last': {'rc': 1, 'stderr': 'qemu-system-aarch64: -name: requires an argument\n'},
 'invalid-before-missing-arg': {'rc': 1, 'stderr': 'qemu-system-aarch64: -foo: invalid option\n'},
 'not-for-target': {'rc': 1,
                    'stderr': 'qemu-system-aarch64: -acpitable x: Option not supported for this target\n'},
 'not-for-target-noarg': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: -no-hpet: Option not supported for this target\n'},
 'not-for-target-win2k': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: -win2k-hack: Option not supported for this '
                                    'target\n'},
 'double-dash-machine': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: unsupported machine type\n'
                                   'Use -machine help to list supported machines\n'},
 'no-machine': {'rc': 1,
                'stderr': 'qemu-system-aarch64: No machine specified, and there is no default\n'
                          'Use -machine help to list supported machines\n'},
 'unsupported-machine': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: unsupported machine type\n'
                                   'Use -machine help to list supported machines\n'},
 'machine-help-comma': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -machine help,foo: Expected '=' after parameter "
                                  "'foo'\n"},
 'machine-keyval-bad-key': {'rc': 1,
                            'stderr': "qemu-system-aarch64: -machine virt,1x=2: Invalid parameter '1x'\n"},
 'machine-merge-later-type': {'rc': 'started', 'stderr': ''},
 'machine-merge-props-only': {'rc': 1,
                              'stderr': 'qemu-system-aarch64: No machine specified, and there is no default\n'
                                        'Use -machine help to list supported machines\n'},
 'machine-alias': {'rc': 'started', 'stderr': ''},
 'machine-none': {'rc': 'started', 'stderr': ''},
 'machine-type-key': {'rc': 'started', 'stderr': ''},
 'm-bad': {'rc': 1,
           'stderr': "qemu-system-aarch64: -m abc: Parameter 'size' expects a non-negative number below "
                     '2^64\n'
                     'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n'
                     'and exabytes, respectively.\n'},
 'm-size-bad': {'rc': 1,
                'stderr': "qemu-system-aarch64: -m size=abc: Parameter 'size' expects a non-negative number "
                          'below 2^64\n'
                          'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n'
                          'and exabytes, respectively.\n'},
 'm-invalid-param': {'rc': 1, 'stderr': "qemu-system-aarch64: -m 128,foo=1: Invalid parameter 'foo'\n"},
 'm-slots-no-max': {'rc': 1, 'stderr': 'qemu-system-aarch64: slots specified but no max-size\n'},
 'm-maxmem-small': {'rc': 1,
                    'stderr': 'qemu-system-aarch64: invalid value of maxmem: maximum memory size (0x4000000) '
                              'must be at least the initial memory size (0x8000000)\n'},
 'm-maxmem-equal-slots': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: invalid value of maxmem: memory slots were '
                                    'specified but maximum memory size (0x8000000) is equal to the initial '
                                    'memory size (0x8000000)\n'},
 'm-ok-suffix': {'rc': 'started', 'stderr': ''},
 'm-ok-zero': {'rc': 'started', 'stderr': ''},
 'm-ok-maxmem': {'rc': 'started', 'stderr': ''},
 'm-empty-size': {'rc': 1,
                  'stderr': "qemu-system-aarch64: -m size=: Parameter 'size' expects a non-negative number "
                            'below 2^64\n'
                            'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n'
                            'and exabytes, respectively.\n'},
 'smp-ok': {'rc': 'started', 'stderr': ''},
 'smp-zero': {'rc': 'started',
              'stderr': 'qemu-system-aarch64: warning: Deprecated CPU topology (considered invalid): CPU '
                        'topology parameters must be greater than zero\n'},
 'smp-not-int': {'rc': 1, 'stderr': "qemu-system-aarch64: Parameter 'smp.cpus' expects integer\n"},
 'smp-implied-not-int': {'rc': 1, 'stderr': "qemu-system-aarch64: Parameter 'smp.cpus' expects integer\n"},
 'smp-product': {'rc': 1,
                 'stderr': 'qemu-system-aarch64: Invalid CPU topology: product of the hierarchy must match '
                           'maxcpus: sockets (2) * clusters (1) * cores (0) * threads (1) != maxcpus (1)\n'},
 'smp-unexpected': {'rc': 1, 'stderr': "qemu-system-aarch64: Parameter 'smp.foo' is unexpected\n"},
 'smp-too-many': {'rc': 1,
                  'stderr': 'qemu-system-aarch64: Invalid SMP CPUs 600. The max CPUs supported by machine '
                            "'virt-7.2' is 512\n"},
 'smp-libvirt': {'rc': 'started', 'stderr': ''},
 'smp-dies': {'rc': 1, 'stderr': "qemu-system-aarch64: dies not supported by this machine's CPU topology\n"},
 'smp-clusters': {'rc': 'started', 'stderr': ''},
 'smp-maxcpus-lt': {'rc': 1,
                    'stderr': 'qemu-system-aarch64: Invalid CPU topology: maxcpus must be equal to or '
                              'greater than smp: sockets (1) * clusters (1) * cores (2) * threads (1) == '
                              'maxcpus (2) < smp_cpus (4)\n'},
 'smp-none-machine-2': {'rc': 1,
                        'stderr': 'qemu-system-aarch64: Invalid SMP CPUs 2. The max CPUs supported by '
                                  "machine 'none' is 1\n"},
 'uuid-ok': {'rc': 'started', 'stderr': ''},
 'uuid-nodash': {'rc': 1,
                 'stderr': 'qemu-system-aarch64: -uuid 12345678123412341234123456789abc: failed to parse '
                           'UUID string: wrong format\n'},
 'uuid-bad': {'rc': 1,
              'stderr': 'qemu-system-aarch64: -uuid xyz: failed to parse UUID string: wrong format\n'},
 'name-ok': {'rc': 'started', 'stderr': ''},
 'name-process': {'rc': 'started', 'stderr': ''},
 'name-invalid': {'rc': 1, 'stderr': "qemu-system-aarch64: -name guest=x,foo=bar: Invalid parameter 'foo'\n"},
 'name-bool': {'rc': 1,
               'stderr': "qemu-system-aarch64: -name debug-threads=maybe: Parameter 'debug-threads' expects "
                         "'on' or 'off'\n"},
 'accel-kvm-invalid': {'rc': 1, 'stderr': 'qemu-system-aarch64: -accel kvm: invalid accelerator kvm\n'},
 'enable-kvm': {'rc': 1, 'stderr': 'qemu-system-aarch64: invalid accelerator kvm\n'},
 'machine-accel-kvm-tcg': {'rc': 'started',
                           'stderr': 'qemu-system-aarch64: invalid accelerator kvm\n'
                                     'qemu-system-aarch64: falling back to tcg\n'},
 'accel-tcg-ok': {'rc': 'started', 'stderr': ''},
 'accel-tcg-thread': {'rc': 'started', 'stderr': ''},
 'accel-tcg-bad-prop': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -accel tcg,foo=1: Property 'tcg-accel.foo' not "
                                  'found\n'},
 'accel-twice': {'rc': 'started', 'stderr': ''},
 'accel-incompatible': {'rc': 1,
                        'stderr': 'qemu-system-aarch64: The -accel and "-machine accel=" options are '
                                  'incompatible\n'},
 'accel-fallback-list': {'rc': 'started',
                         'stderr': 'qemu-system-aarch64: -accel kvm: invalid accelerator kvm\n'
                                   'qemu-system-aarch64: falling back to tcg\n'},
 'accel-nosuch': {'rc': 1, 'stderr': 'qemu-system-aarch64: -accel nosuch: invalid accelerator nosuch\n'},
 'machine-accel-nosuch': {'rc': 1, 'stderr': 'qemu-system-aarch64: invalid accelerator nosuch\n'},
 'cpu-unknown': {'rc': 1, 'stderr': "qemu-system-aarch64: unable to find CPU model 'nosuch'\n"},
 'cpu-host-tcg': {'rc': 1, 'stderr': "qemu-system-aarch64: unable to find CPU model 'host'\n"},
 'cpu-max-ok': {'rc': 'started', 'stderr': ''},
 'cpu-none-machine': {'rc': 1, 'stderr': "qemu-system-aarch64: unable to find CPU model 'nosuch'\n"},
 'qmp-probe': {'rc': 'started',
               'stderr': 'qemu-system-aarch64: invalid accelerator kvm\n'
                         'qemu-system-aarch64: falling back to tcg\n'},
 'qmp-short-bools': {'rc': 'started', 'stderr': ''},
 'qmp-bad-wait': {'rc': 1,
                  'stderr': 'qemu-system-aarch64: -qmp unix:{tmp}/a.sock,server=on,wait=maybe: Parameter '
                            "'wait' expects 'on' or 'off'\n"
                            'qemu-system-aarch64: -qmp unix:{tmp}/a.sock,server=on,wait=maybe: parse error: '
                            'unix:{tmp}/a.sock,server=on,wait=maybe\n'},
 'qmp-invalid-param': {'rc': 1,
                       'stderr': 'qemu-system-aarch64: -qmp unix:{tmp}/a.sock,server=on,wait=off,foo=bar: '
                                 "Invalid parameter 'foo'\n"
                                 'qemu-system-aarch64: -qmp unix:{tmp}/a.sock,server=on,wait=off,foo=bar: '
                                 'parse error: unix:{tmp}/a.sock,server=on,wait=off,foo=bar\n'},
 'qmp-none': {'rc': 1,
              'stderr': "qemu-system-aarch64: -qmp none: 'none' is not a valid char driver\n"
                        'qemu-system-aarch64: -qmp none: parse error: none\n'},
 'qmp-bad-dir': {'rc': 1,
                 'stderr': 'qemu-system-aarch64: -qmp unix:/nonexistent/dir/x.sock,server=on,wait=off: '
                           'Failed to bind socket to /nonexistent/dir/x.sock: No such file or directory\n'},
 'qmp-client-no-server': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: -qmp unix:{tmp}/nosuch.sock: Failed to connect to '
                                    "'{tmp}/nosuch.sock': No such file or directory\n"},
 'qmp-tcp-bad-port': {'rc': 1,
                      'stderr': 'qemu-system-aarch64: -qmp tcp:localhost:abc,server=on,wait=off: address '
                                'resolution failed for localhost:abc: Servname not supported for '
                                'ai_socktype\n'},
 'chardev-ok-mon': {'rc': 'started', 'stderr': ''},
 'chardev-no-id': {'rc': 1,
                   'stderr': 'qemu-system-aarch64: -chardev socket,path={tmp}/b.sock,server=on,wait=off: '
                             'chardev: no id specified\n'},
 'chardev-socket-nothing': {'rc': 1,
                            'stderr': 'qemu-system-aarch64: -chardev socket,id=c1: Unable to parse FD '
                                      'number \n'},
 'chardev-bad-backend': {'rc': 1,
                         'stderr': "qemu-system-aarch64: -chardev foo,id=c1: 'foo' is not a valid char "
                                   'driver name\n'},
 'chardev-fd-not-socket': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -chardev socket,id=c1,fd=99,server=on,wait=off: '
                                     "File descriptor '99' is not a socket\n"},
 'chardev-fd-not-number': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -chardev socket,id=c1,fd=abc,server=on,wait=off: '
                                     'Unable to parse FD number abc\n'},
 'chardev-dup-id': {'rc': 1,
                    'stderr': 'qemu-system-aarch64: -chardev '
                              "socket,id=c1,path={tmp}/c.sock,server=on,wait=off: Duplicate ID 'c1' for "
                              'chardev\n'},
 'chardev-path-and-host': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -chardev '
                                     'socket,id=c1,path={tmp}/b.sock,host=localhost,port=1: None or one of '
                                     "'path', 'fd' or 'host' option required.\n"},
 'chardev-host-no-port': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: -chardev socket,id=c1,host=localhost: chardev: '
                                    'socket: no port given\n'},
 'chardev-bad-bool': {'rc': 1,
                      'stderr': 'qemu-system-aarch64: -chardev socket,id=c1,path={tmp}/b.sock,server=maybe: '
                                "Parameter 'server' expects 'on' or 'off'\n"},
 'chardev-invalid-param': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -chardev socket,id=c1,path={tmp}/b.sock,nosuch=1: '
                                     "Invalid parameter 'nosuch'\n"},
 'mon-not-found': {'rc': 1,
                   'stderr': 'qemu-system-aarch64: -mon chardev=nosuch,mode=control: chardev "nosuch" not '
                             'found\n'},
 'mon-implied-not-found': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -mon nosuch: chardev "nosuch" not found\n'},
 'mon-bad-mode': {'rc': 1,
                  'stderr': "qemu-system-aarch64: -mon chardev=c1,mode=foo: Parameter 'mode' does not accept "
                            "value 'foo'\n"},
 'mon-bad-pretty': {'rc': 1,
                    'stderr': 'qemu-system-aarch64: -mon chardev=c1,mode=control,pretty=maybe: Parameter '
                              "'pretty' expects 'on' or 'off'\n"},
 'mon-invalid-param': {'rc': 1,
                       'stderr': 'qemu-system-aarch64: -mon c1,mode=control,foo=1: Invalid parameter '
                                 "'foo'\n"},
 'mon-pretty-ok': {'rc': 'started', 'stderr': ''},
 'mon-hmp-pretty': {'rc': 1,
                    'stderr': "qemu-system-aarch64: -mon chardev=c1,mode=readline,pretty=on: 'pretty' is not "
                              'compatible with HMP monitors\n'},
 'mon-no-chardev': {'rc': 1,
                    'stderr': "qemu-system-aarch64: -mon mode=control: Parameter 'chardev' is missing\n"},
 'pidfile-bad-dir': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: cannot create PID file: Could not create '
                               "'/nonexistent/x.pid': No such file or directory\n"},
 'nographic-daemonize': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: -nographic cannot be used with -daemonize\n'},
 'incoming-bad': {'rc': 1,
                  'stderr': 'qemu-system-aarch64: -incoming foo:bar: unknown migration protocol: foo:bar\n'},
 'incoming-defer': {'rc': 'started', 'stderr': ''},
 'incoming-preconfig': {'rc': 1,
                        'stderr': "qemu-system-aarch64: 'preconfig' supports '-incoming defer' only\n"},
 'object-secret': {'rc': 'started', 'stderr': ''},
 'object-no-id': {'rc': 1,
                  'stderr': "qemu-system-aarch64: -object secret,data=abc: Parameter 'id' is missing\n"},
 'object-json': {'rc': 'started', 'stderr': ''},
 'object-reserved-ram-id': {'rc': 1,
                            'stderr': "qemu-system-aarch64: object name 'mach-virt.ram' is reserved for the "
                                      "default RAM backend, it can't be used for any other purposes. Change "
                                      "the object's 'id' to something else\n"},
 'object-json-bad': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: -object {bad: JSON parse error, invalid keyword '
                               "'bad'\n"},
 'object-json-eoi': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: -object {"a":1: JSON parse error, premature EOI\n'},
 'object-json-two': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: -object {"a":1} x: Expecting at most one JSON value\n'},
 'object-bad-size': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: -object memory-backend-ram,id=m1,size=abc: Parameter '
                               "'size' expects a size value\n"},
 'object-dup-id': {'rc': 1,
                   'stderr': "qemu-system-aarch64: -object secret,id=s1,data=b: Duplicate ID 's1' for "
                             'object\n'},
 'object-dup-id-json': {'rc': 1,
                        'stderr': "qemu-system-aarch64: attempt to add duplicate property 's1' to object "
                                  "(type 'container')\n"},
 'object-bad-type': {'rc': 1,
                     'stderr': "qemu-system-aarch64: -object foo: Parameter 'qom-type' does not accept value "
                               "'foo'\n"},
 'object-bad-id': {'rc': 1,
                   'stderr': "qemu-system-aarch64: -object secret,id=1bad,data=x: Parameter 'id' expects an "
                             'identifier\n'
                             "Identifiers consist of letters, digits, '-', '.', '_', starting with a "
                             'letter.\n'},
 'object-iothread': {'rc': 'started', 'stderr': ''},
 'object-unknown-prop': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: -object iothread,id=io1,foo=1: Invalid parameter '
                                   "'foo'\n"},
 'object-json-unknown-prop': {'rc': 1,
                              'stderr': 'qemu-system-aarch64: -object '
                                        '{"qom-type":"iothread","id":"io1","foo":1}: Parameter \'foo\' is '
                                        'unexpected\n'},
 'object-json-type-error': {'rc': 1,
                            'stderr': 'qemu-system-aarch64: -object '
                                      '{"qom-type":"memory-backend-ram","id":"m1","size":"x"}: Parameter '
                                      "'size' expects uint64\n"},
 'object-memdev-libvirt': {'rc': 'started', 'stderr': ''},
 'memdev-not-found': {'rc': 1, 'stderr': "qemu-system-aarch64: Memory backend 'nosuch' not found\n"},
 'device-unknown': {'rc': 1,
                    'stderr': "qemu-system-aarch64: -device nosuch: 'nosuch' is not a valid device model "
                              'name\n'},
 'device-bad-prop': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: -device virtio-net-pci,id=n1,foo=bar: Property '
                               "'virtio-net-pci.foo' not found\n"},
 'device-nic-no-peer': {'rc': 'started', 'stderr': 'qemu-system-aarch64: warning: nic n1 has no peer\n'},
 'device-json-nic': {'rc': 'started', 'stderr': 'qemu-system-aarch64: warning: nic n1 has no peer\n'},
 'device-dup-id': {'rc': 1,
                   'stderr': "qemu-system-aarch64: -device pcie-root-port,id=p1: Duplicate ID 'p1' for "
                             'device\n'},
 'device-dup-id-json': {'rc': 1,
                        'stderr': 'qemu-system-aarch64: -device {"driver":"pcie-root-port","id":"p1"}: '
                                  "Duplicate device ID 'p1'\n"},
 'device-blk-no-drive': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: -device virtio-blk-pci: drive property not set\n'},
 'device-netdev-missing': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -device virtio-net-pci,netdev=nosuch: Property '
                                     "'virtio-net-device.netdev' can't find value 'nosuch'\n"},
 'device-netdev-pair': {'rc': 'started', 'stderr': ''},
 'device-bus-missing': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -device virtio-net-pci,bus=pci.9: Bus 'pci.9' not "
                                  'found\n'},
 'device-root-port-bus': {'rc': 'started', 'stderr': ''},
 'device-abstract': {'rc': 1,
                     'stderr': "qemu-system-aarch64: -device virtio-pci: Parameter 'driver' expects a "
                               'non-abstract device type\n'},
 'device-not-device': {'rc': 1,
                       'stderr': "qemu-system-aarch64: -device secret: 'secret' is not a valid device model "
                                 'name\n'},
 'blockdev-null': {'rc': 'started', 'stderr': ''},
 'blockdev-json': {'rc': 'started', 'stderr': ''},
 'blockdev-bad-driver': {'rc': 1,
                         'stderr': "qemu-system-aarch64: -blockdev foo: Parameter 'driver' does not accept "
                                   "value 'foo'\n"},
 'blockdev-missing-driver': {'rc': 1,
                             'stderr': "qemu-system-aarch64: -blockdev node-name=b1: Parameter 'driver' is "
                                       'missing\n'},
 'blockdev-unexpected': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: -blockdev driver=null-co,node-name=b1,foo=1: '
                                   "Parameter 'foo' is unexpected\n"},
 'blockdev-bad-bool': {'rc': 1,
                       'stderr': 'qemu-system-aarch64: -blockdev '
                                 "driver=null-co,node-name=b1,read-only=maybe: Parameter 'read-only' expects "
                                 "'on' or 'off'\n"},
 'netdev-user': {'rc': 'started', 'stderr': 'qemu-system-aarch64: warning: netdev n1 has no peer\n'},
 'netdev-bad-type': {'rc': 1,
                     'stderr': "qemu-system-aarch64: -netdev foo,id=n1: Parameter 'type' does not accept "
                               "value 'foo'\n"},
 'netdev-no-id': {'rc': 1, 'stderr': "qemu-system-aarch64: -netdev user: Parameter 'id' is missing\n"},
 'netdev-dup': {'rc': 1, 'stderr': "qemu-system-aarch64: -netdev user,id=n1: Duplicate ID 'n1' for netdev\n"},
 'netdev-json-bad-type': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: -netdev {"type":"foo","id":"n1"}: Parameter '
                                    "'type' does not accept value 'foo'\n"},
 'rtc-ok': {'rc': 'started', 'stderr': ''},
 'rtc-bad-base': {'rc': 1,
                  'stderr': 'qemu-system-aarch64: invalid datetime format\n'
                            "valid formats: '2006-06-17T16:01:21' or '2006-06-17'\n"},
 'rtc-bad-clock': {'rc': 1, 'stderr': "qemu-system-aarch64: invalid option value 'foo'\n"},
 'rtc-invalid-param': {'rc': 1, 'stderr': "qemu-system-aarch64: -rtc foo=bar: Invalid parameter 'foo'\n"},
 'rtc-short-form': {'rc': 1,
                    'stderr': "qemu-system-aarch64: -rtc utc: warning: short-form boolean option 'utc' "
                              'deprecated\n'
                              'Please use utc=on instead\n'
                              "qemu-system-aarch64: -rtc utc: Invalid parameter 'utc'\n"},
 'rtc-date': {'rc': 'started', 'stderr': ''},
 'boot-ok': {'rc': 'started', 'stderr': ''},
 'boot-bad-bool': {'rc': 1, 'stderr': "qemu-system-aarch64: Parameter 'boot.strict' expects 'on' or 'off'\n"},
 'boot-unexpected': {'rc': 1, 'stderr': "qemu-system-aarch64: Parameter 'boot.foo' is unexpected\n"},
 'boot-order': {'rc': 'started', 'stderr': ''},
 'msg-timestamp': {'rc': 1, 'stderr': "{ts} qemu-system-aarch64: unable to find CPU model 'nosuch'\n"},
 'msg-bad': {'rc': 1,
             'stderr': "qemu-system-aarch64: -msg timestamp=maybe: Parameter 'timestamp' expects 'on' or "
                       "'off'\n"},
 'msg-guest-name': {'rc': 1, 'stderr': "g1 qemu-system-aarch64: unable to find CPU model 'nosuch'\n"},
 'sandbox-libvirt': {'rc': 'started', 'stderr': ''},
 'sandbox-off': {'rc': 'started', 'stderr': ''},
 'sandbox-bad-enable': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -sandbox foo: Parameter 'enable' expects 'on' or "
                                  "'off'\n"},
 'sandbox-bad-obsolete': {'rc': 1,
                          'stderr': 'qemu-system-aarch64: -sandbox on,obsolete=foo: invalid argument for '
                                    'obsolete\n'},
 'overcommit-ok': {'rc': 'started', 'stderr': ''},
 'overcommit-bad': {'rc': 1,
                    'stderr': "qemu-system-aarch64: -overcommit mem-lock=maybe: Parameter 'mem-lock' expects "
                              "'on' or 'off'\n"},
 'overcommit-invalid': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -overcommit foo=bar: Invalid parameter 'foo'\n"},
 'display-bad-type': {'rc': 1,
                      'stderr': "qemu-system-aarch64: -display foo: Parameter 'type' does not accept value "
                                "'foo'\n"},
 'display-unexpected': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -display none,foo=bar: Parameter 'foo' is "
                                  'unexpected\n'},
 'display-vnc-no-arg': {'rc': 1,
                        'stderr': 'qemu-system-aarch64: -display vnc: VNC requires a display argument '
                                  'vnc=<display>\n'},
 'global-ok': {'rc': 'started', 'stderr': ''},
 'global-long-form': {'rc': 'started', 'stderr': ''},
 'global-invalid-class': {'rc': 'started',
                          'stderr': 'qemu-system-aarch64: warning: global foo.bar has invalid class name\n'},
 'global-short-form': {'rc': 1,
                       'stderr': "qemu-system-aarch64: -global foo: warning: short-form boolean option 'foo' "
                                 'deprecated\n'
                                 'Please use foo=on instead\n'
                                 "qemu-system-aarch64: -global foo: Invalid parameter 'foo'\n"},
 'global-missing-value': {'rc': 1,
                          'stderr': "qemu-system-aarch64: -global driver=a,property=b: options 'driver', "
                                    "'property', and 'value' are required\n"},
 'compat-ok': {'rc': 'started', 'stderr': ''},
 'compat-bad-value': {'rc': 1,
                      'stderr': 'qemu-system-aarch64: -compat deprecated-input=foo: Parameter '
                                "'deprecated-input' does not accept value 'foo'\n"},
 'compat-unexpected': {'rc': 1,
                       'stderr': "qemu-system-aarch64: -compat foo=bar: Parameter 'foo' is unexpected\n"},
 'audiodev-json': {'rc': 'started', 'stderr': ''},
 'audiodev-keyval': {'rc': 'started', 'stderr': ''},
 'audiodev-bad-driver': {'rc': 1,
                         'stderr': "qemu-system-aarch64: -audiodev foo,id=a1: Parameter 'driver' does not "
                                   "accept value 'foo'\n"},
 'audiodev-no-id': {'rc': 1, 'stderr': "qemu-system-aarch64: -audiodev none: Parameter 'id' is missing\n"},
 'no-shutdown-no-acpi': {'rc': 'started', 'stderr': ''},
 'no-user-config': {'rc': 'started', 'stderr': ''},
 'append-without-kernel': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -append only allowed with -kernel option\n'},
 'initrd-without-kernel': {'rc': 1,
                           'stderr': 'qemu-system-aarch64: -initrd only allowed with -kernel option\n'},
 'preconfig': {'rc': 'started', 'stderr': ''},
 'version': {'rc': 0,
             'stderr': '',
             'stdout': 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n'
                       'Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n'},
 'version-double-dash': {'rc': 0,
                         'stderr': '',
                         'stdout': 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n'
                                   'Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project '
                                   'developers\n'},
 'accel-help': {'rc': 0, 'stderr': '', 'stdout': 'Accelerators supported in QEMU binary:\ntcg\n'},
 'cpu-help': {'rc': 0,
              'stderr': '',
              'stdout': 'Available CPUs:\n'
                        '  a64fx\n'
                        '  arm1026\n'
                        '  arm1136\n'
                        '  arm1136-r2\n'
                        '  arm1176\n'
                        '  arm11mpcore\n'
                        '  arm926\n'
                        '  arm946\n'
                        '  cortex-a15\n'
                        '  cortex-a35\n'
                        '  cortex-a53\n'
                        '  cortex-a57\n'
                        '  cortex-a7\n'
                        '  cortex-a72\n'
                        '  cortex-a76\n'
                        '  cortex-a8\n'
                        '  cortex-a9\n'
                        '  cortex-m0\n'
                        '  cortex-m3\n'
                        '  cortex-m33\n'
                        '  cortex-m4\n'
                        '  cortex-m55\n'
                        '  cortex-m7\n'
                        '  cortex-r5\n'
                        '  cortex-r5f\n'
                        '  max\n'
                        '  neoverse-n1\n'
                        '  pxa250\n'
                        '  pxa255\n'
                        '  pxa260\n'
                        '  pxa261\n'
                        '  pxa262\n'
                        '  pxa270-a0\n'
                        '  pxa270-a1\n'
                        '  pxa270\n'
                        '  pxa270-b0\n'
                        '  pxa270-b1\n'
                        '  pxa270-c0\n'
                        '  pxa270-c5\n'
                        '  sa1100\n'
                        '  sa1110\n'
                        '  ti925t\n'},
 'display-help': {'rc': 0,
                  'stderr': '',
                  'stdout': 'Available display backend types:\n'
                            'none\n'
                            'gtk\n'
                            'sdl\n'
                            'egl-headless\n'
                            'curses\n'
                            'spice-app\n'
                            'dbus\n'},
 'chardev-help': {'rc': 0,
                  'stderr': '',
                  'stdout': 'Available chardev backend types: \n'
                            '  stdio\n'
                            '  vc\n'
                            '  serial\n'
                            '  pipe\n'
                            '  pty\n'
                            '  testdev\n'
                            '  null\n'
                            '  ringbuf\n'
                            '  wctablet\n'
                            '  qemu-vdagent\n'
                            '  msmouse\n'
                            '  socket\n'
                            '  udp\n'
                            '  file\n'
                            '  mux\n'
                            '  parallel\n'
                            '  memory\n'},
 'chardev-help-no-machine': {'rc': 1,
                             'stderr': 'qemu-system-aarch64: No machine specified, and there is no default\n'
                                       'Use -machine help to list supported machines\n'},
 'device-props-help': {'rc': 0,
                       'stderr': '',
                       'stdout': 'virtio-net-pci options:\n'
                                 '  acpi-index=<uint32>    -  (default: 0)\n'
                                 '  addr=<int32>           - Slot and optional function number, example: '
                                 '06.0 or 06 (default: -1)\n'
                                 '  aer=<bool>             - on/off (default: false)\n'
                                 '  any_layout=<bool>      - on/off (default: true)\n'
                                 '  ats=<bool>             - on/off (default: false)\n'
                                 '  bootindex=<int32>\n'
                                 '  csum=<bool>            - on/off (default: true)\n'
                                 '  ctrl_guest_offloads=<bool> - on/off (default: true)\n'
                                 '  ctrl_mac_addr=<bool>   - on/off (default: true)\n'
                                 '  ctrl_rx=<bool>         - on/off (default: true)\n'
                                 '  ctrl_rx_extra=<bool>   - on/off (default: true)\n'
                                 '  ctrl_vlan=<bool>       - on/off (default: true)\n'
                                 '  ctrl_vq=<bool>         - on/off (default: true)\n'
                                 '  disable-legacy=<OnOffAuto> - on/off/auto (default: "auto")\n'
                                 '  disable-modern=<bool>  -  (default: false)\n'
                                 '  duplex=<str>\n'
                                 '  event_idx=<bool>       - on/off (default: true)\n'
                                 '  failover=<bool>        -  (default: false)\n'
                                 '  failover_pair_id=<str>\n'
                                 '  gso=<bool>             - on/off (default: true)\n'
                                 '  guest_announce=<bool>  - on/off (default: true)\n'
                                 '  guest_csum=<bool>      - on/off (default: true)\n'
                                 '  guest_ecn=<bool>       - on/off (default: true)\n'
                                 '  guest_rsc_ext=<bool>   - on/off (default: false)\n'
                                 '  guest_tso4=<bool>      - on/off (default: true)\n'
                                 '  guest_tso6=<bool>      - on/off (default: true)\n'
                                 '  guest_ufo=<bool>       - on/off (default: true)\n'
                                 '  hash=<bool>            - on/off (default: false)\n'
                                 '  host_ecn=<bool>        - on/off (default: true)\n'
                                 '  host_mtu=<uint16>      -  (default: 0)\n'
                                 '  host_tso4=<bool>       - on/off (default: true)\n'
                                 '  host_tso6=<bool>       - on/off (default: true)\n'
                                 '  host_ufo=<bool>        - on/off (default: true)\n'
                                 '  indirect_desc=<bool>   - on/off (default: true)\n'
                                 '  ioeventfd=<bool>       - on/off (default: true)\n'
                                 '  iommu_platform=<bool>  - on/off (default: false)\n'
                                 '  mac=<str>              - Ethernet 6-byte MAC Address, example: '
                                 '52:54:00:12:34:56\n'
                                 '  migrate-extra=<bool>   - on/off (default: true)\n'
                                 '  modern-pio-notify=<bool> - on/off (default: false)\n'
                                 '  mq=<bool>              - on/off (default: false)\n'
                                 '  mrg_rxbuf=<bool>       - on/off (default: true)\n'
                                 '  multifunction=<bool>   - on/off (default: false)\n'
                                 '  netdev=<str>           - ID of a netdev to use as a backend\n'
                                 '  notify_on_empty=<bool> - on/off (default: true)\n'
                                 '  packed=<bool>          - on/off (default: false)\n'
                                 '  page-per-vq=<bool>     - on/off (default: false)\n'
                                 '  queue_reset=<bool>     - on/off (default: true)\n'
                                 '  rombar=<uint32>        -  (default: 1)\n'
                                 '  romfile=<str>\n'
                                 '  romsize=<uint32>       -  (default: 4294967295)\n'
                                 '  rsc_interval=<uint32>  -  (default: 300000)\n'
                                 '  rss=<bool>             - on/off (default: false)\n'
                                 '  rx_queue_size=<uint16> -  (default: 256)\n'
                                 '  speed=<int32>          -  (default: -1)\n'
                                 '  status=<bool>          - on/off (default: true)\n'
                                 '  tx=<str>\n'
                                 '  tx_queue_size=<uint16> -  (default: 256)\n'
                                 '  use-disabled-flag=<bool> -  (default: true)\n'
                                 '  use-started=<bool>     -  (default: true)\n'
                                 '  vectors=<uint32>       -  (default: 4294967295)\n'
                                 '  virtio-backend=<child<virtio-net-device>>\n'
                                 '  virtio-pci-bus-master-bug-migration=<bool> - on/off (default: false)\n'
                                 '  x-ats-page-aligned=<bool> - on/off (default: true)\n'
                                 '  x-disable-legacy-check=<bool> -  (default: false)\n'
                                 '  x-disable-pcie=<bool>  - on/off (default: false)\n'
                                 '  x-ignore-backend-features=<bool> -  (default: false)\n'
                                 '  x-mtu-bypass-backend=<bool> -  (default: true)\n'
                                 '  x-pcie-deverr-init=<bool> - on/off (default: true)\n'
                                 '  x-pcie-extcap-init=<bool> - on/off (default: true)\n'
                                 '  x-pcie-flr-init=<bool> - on/off (default: true)\n'
                                 '  x-pcie-lnkctl-init=<bool> - on/off (default: true)\n'
                                 '  x-pcie-lnksta-dllla=<bool> - on/off (default: true)\n'
                                 '  x-pcie-pm-init=<bool>  - on/off (default: true)\n'
                                 '  x-txburst=<int32>      -  (default: 256)\n'
                                 '  x-txtimer=<uint32>     -  (default: 150000)\n'},
 'version-after-error': {'rc': 1,
                         'stderr': "qemu-system-aarch64: -m abc: Parameter 'size' expects a non-negative "
                                   'number below 2^64\n'
                                   'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, '
                                   'peta-\n'
                                   'and exabytes, respectively.\n'},
 'version-before-error': {'rc': 0,
                          'stderr': '',
                          'stdout': 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n'
                                    'Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project '
                                    'developers\n'},
 'libvirt-domain': {'rc': 'started', 'stderr': ''},
 'cpu-empty': {'rc': 1, 'stderr': 'qemu-system-aarch64: -cpu option cannot be empty\n'},
 'cpu-empty-model': {'rc': 1, 'stderr': "qemu-system-aarch64: unable to find CPU model ''\n"},
 'cpu-trailing-commas': {'rc': 'started', 'stderr': ''},
 'cpu-commas-then-flag': {'rc': 1, 'stderr': 'qemu-system-aarch64: Expected key=value format, found x.\n'},
 'pidfile-empty': {'rc': 1,
                   'stderr': "qemu-system-aarch64: cannot create PID file: Could not create '': No such file "
                             'or directory\n'},
 'boot-order-invalid': {'rc': 1, 'stderr': "qemu-system-aarch64: Invalid boot device 'z'\n"},
 'boot-order-twice': {'rc': 1, 'stderr': "qemu-system-aarch64: Boot device 'a' was given twice\n"},
 'boot-once-invalid': {'rc': 1, 'stderr': "qemu-system-aarch64: Invalid boot device 'z'\n"},
 'action-shutdown-invalid': {'rc': 1,
                             'stderr': "qemu-system-aarch64: -action shutdown=nope: Parameter 'shutdown' "
                                       "does not accept value 'nope'\n"},
 'action-schema-order': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: -action shutdown=nope,reboot=nope: Parameter '
                                   "'reboot' does not accept value 'nope'\n"},
 'action-before-add-fd': {'rc': 1,
                          'stderr': "qemu-system-aarch64: -action panic=xx: Parameter 'panic' does not "
                                    "accept value 'xx'\n"},
 'add-fd-not-open': {'rc': 1,
                     'stderr': 'qemu-system-aarch64: -add-fd fd=99,set=1: fd is not valid or already in '
                               'use\n'},
 'add-fd-stdio': {'rc': 1,
                  'stderr': 'qemu-system-aarch64: -add-fd fd=2,set=1: fd cannot be a standard I/O stream\n'},
 'add-fd-no-fd': {'rc': 1,
                  'stderr': 'qemu-system-aarch64: -add-fd set=1: fd option is required and must be '
                            'non-negative\n'},
 'add-fd-fd-too-large': {'rc': 1,
                         'stderr': 'qemu-system-aarch64: -add-fd fd=99999999999999999999,set=1: Value '
                                   "'99999999999999999999' is too large for parameter 'fd'\n"},
 'm-out-of-range': {'rc': 1,
                    'stderr': "qemu-system-aarch64: -m 99999999999999999999: Value '99999999999999999999' is "
                              "out of range for parameter 'size'\n"},
 'm-16E-out-of-range': {'rc': 1,
                        'stderr': "qemu-system-aarch64: -m 16E: Value '16E' is out of range for parameter "
                                  "'size'\n"},
 'machine-empty-key': {'rc': 1, 'stderr': "qemu-system-aarch64: -machine virt,,: Invalid parameter ''\n"},
 'machine-empty-key-before-equals': {'rc': 1,
                                     'stderr': 'qemu-system-aarch64: -machine virt,=x: Invalid parameter '
                                               "''\n"},
 'smp-empty-key': {'rc': 1, 'stderr': "qemu-system-aarch64: -smp 2,,: Invalid parameter ''\n"}}
