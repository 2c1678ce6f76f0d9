"""Recorded by launcher_record_cases.py from:
QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)
Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers"""

# flake8: noqa
CASES = {'pseries-default': {'rc': 'started',
                     'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                               'cap-cfpc=workaround\n'
                               "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                               'cap-sbbc=workaround\n'
                               "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                               'cap-ibs=workaround\n'
                               "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                               'cap-ccf-assist=on\n',
                     'qom': {'cap-htm': False,
                             'cap-vsx': True,
                             'cap-dfp': True,
                             'cap-cfpc': 'workaround',
                             'cap-sbbc': 'workaround',
                             'cap-ibs': 'workaround',
                             'cap-hpt-max-page-size': 65536,
                             'cap-nested-hv': False,
                             'cap-large-decr': True,
                             'cap-ccf-assist': True,
                             'cap-fwnmi': True,
                             'cap-rpt-invalidate': False,
                             'vsmt': 1,
                             'ic-mode': 'dual',
                             'kvm-type': 'auto',
                             'resize-hpt': 'enabled',
                             'max-cpu-compat': ''}},
 'pseries-alias-7.2': {'rc': 'started',
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-cfpc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-sbbc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ibs=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ccf-assist=on\n',
                       'qom': {'cap-htm': False,
                               'cap-vsx': True,
                               'cap-dfp': True,
                               'cap-cfpc': 'workaround',
                               'cap-sbbc': 'workaround',
                               'cap-ibs': 'workaround',
                               'cap-hpt-max-page-size': 65536,
                               'cap-nested-hv': False,
                               'cap-large-decr': True,
                               'cap-ccf-assist': True,
                               'cap-fwnmi': True,
                               'cap-rpt-invalidate': False}},
 'pseries-7.1': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-sbbc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ccf-assist=on\n',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'workaround',
                         'cap-sbbc': 'workaround',
                         'cap-ibs': 'workaround',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': True,
                         'cap-ccf-assist': True,
                         'cap-fwnmi': True,
                         'cap-rpt-invalidate': False}},
 'pseries-6.2': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-sbbc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ccf-assist=on\n',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'workaround',
                         'cap-sbbc': 'workaround',
                         'cap-ibs': 'workaround',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': True,
                         'cap-ccf-assist': True,
                         'cap-fwnmi': True,
                         'cap-rpt-invalidate': False,
                         'vsmt': 1,
                         'ic-mode': 'dual',
                         'kvm-type': 'auto',
                         'resize-hpt': 'enabled',
                         'max-cpu-compat': ''}},
 'pseries-5.2': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-sbbc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ccf-assist=on\n',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'workaround',
                         'cap-sbbc': 'workaround',
                         'cap-ibs': 'workaround',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': True,
                         'cap-ccf-assist': True,
                         'cap-fwnmi': True,
                         'cap-rpt-invalidate': False}},
 'pseries-4.2': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-sbbc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'workaround',
                         'cap-sbbc': 'workaround',
                         'cap-ibs': 'workaround',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': True,
                         'cap-ccf-assist': False,
                         'cap-fwnmi': False,
                         'cap-rpt-invalidate': False}},
 'pseries-4.0': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-sbbc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'workaround',
                         'cap-sbbc': 'workaround',
                         'cap-ibs': 'workaround',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': True,
                         'cap-ccf-assist': False,
                         'cap-fwnmi': False,
                         'cap-rpt-invalidate': False,
                         'vsmt': 8,
                         'ic-mode': 'xics',
                         'kvm-type': 'auto',
                         'resize-hpt': 'enabled',
                         'max-cpu-compat': ''}},
 'pseries-3.1': {'rc': 'started',
                 'stderr': '',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'broken',
                         'cap-sbbc': 'broken',
                         'cap-ibs': 'broken',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': False,
                         'cap-ccf-assist': False,
                         'cap-fwnmi': False,
                         'cap-rpt-invalidate': False}},
 'pseries-3.0': {'rc': 'started',
                 'stderr': '',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'broken',
                         'cap-sbbc': 'broken',
                         'cap-ibs': 'broken',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': False,
                         'cap-ccf-assist': False,
                         'cap-fwnmi': False,
                         'cap-rpt-invalidate': False}},
 'pseries-2.12': {'rc': 'started',
                  'stderr': '',
                  'qom': {'cap-htm': False,
                          'cap-vsx': True,
                          'cap-dfp': True,
                          'cap-cfpc': 'broken',
                          'cap-sbbc': 'broken',
                          'cap-ibs': 'broken',
                          'cap-hpt-max-page-size': 17179869184,
                          'cap-nested-hv': False,
                          'cap-large-decr': False,
                          'cap-ccf-assist': False,
                          'cap-fwnmi': False,
                          'cap-rpt-invalidate': False,
                          'vsmt': 8,
                          'ic-mode': 'legacy',
                          'kvm-type': 'auto',
                          'resize-hpt': 'enabled',
                          'max-cpu-compat': ''}},
 'pseries-2.12-sxxm': {'rc': 'started',
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-cfpc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-sbbc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ibs=fixed-ccd\n',
                       'qom': {'cap-htm': False,
                               'cap-vsx': True,
                               'cap-dfp': True,
                               'cap-cfpc': 'workaround',
                               'cap-sbbc': 'workaround',
                               'cap-ibs': 'fixed-ccd',
                               'cap-hpt-max-page-size': 17179869184,
                               'cap-nested-hv': False,
                               'cap-large-decr': False,
                               'cap-ccf-assist': False,
                               'cap-fwnmi': False,
                               'cap-rpt-invalidate': False}},
 'pseries-2.11-htm-refused': {'rc': 1,
                              'stderr': 'qemu-system-ppc64: No Transactional Memory support in TCG\n'
                                        'Try appending -machine cap-htm=off\n'},
 'pseries-2.11-htm-off': {'rc': 'started',
                          'stderr': '',
                          'qom': {'cap-htm': False,
                                  'cap-vsx': True,
                                  'cap-dfp': True,
                                  'cap-cfpc': 'broken',
                                  'cap-sbbc': 'broken',
                                  'cap-ibs': 'broken',
                                  'cap-hpt-max-page-size': 17179869184,
                                  'cap-nested-hv': False,
                                  'cap-large-decr': False,
                                  'cap-ccf-assist': False,
                                  'cap-fwnmi': False,
                                  'cap-rpt-invalidate': False,
                                  'vsmt': 8,
                                  'ic-mode': 'legacy',
                                  'kvm-type': 'auto',
                                  'resize-hpt': 'enabled',
                                  'max-cpu-compat': ''}},
 'pseries-2.1-htm-off': {'rc': 'started',
                         'stderr': '',
                         'qom': {'cap-htm': False,
                                 'cap-vsx': True,
                                 'cap-dfp': True,
                                 'cap-cfpc': 'broken',
                                 'cap-sbbc': 'broken',
                                 'cap-ibs': 'broken',
                                 'cap-hpt-max-page-size': 17179869184,
                                 'cap-nested-hv': False,
                                 'cap-large-decr': False,
                                 'cap-ccf-assist': False,
                                 'cap-fwnmi': False,
                                 'cap-rpt-invalidate': False,
                                 'vsmt': 8,
                                 'ic-mode': 'legacy',
                                 'kvm-type': 'auto',
                                 'resize-hpt': 'disabled',
                                 'max-cpu-compat': ''}},
 'pseries-2.1-power7': {'rc': 'started',
                        'stderr': '',
                        'qom': {'cap-htm': False,
                                'cap-vsx': True,
                                'cap-dfp': True,
                                'cap-cfpc': 'broken',
                                'cap-sbbc': 'broken',
                                'cap-ibs': 'broken',
                                'cap-hpt-max-page-size': 17179869184,
                                'cap-nested-hv': False,
                                'cap-large-decr': False,
                                'cap-ccf-assist': False,
                                'cap-fwnmi': False,
                                'cap-rpt-invalidate': False}},
 'quiet': {'rc': 'started',
           'stderr': '',
           'qom': {'cap-htm': False,
                   'cap-vsx': True,
                   'cap-dfp': True,
                   'cap-cfpc': 'broken',
                   'cap-sbbc': 'broken',
                   'cap-ibs': 'broken',
                   'cap-hpt-max-page-size': 65536,
                   'cap-nested-hv': False,
                   'cap-large-decr': True,
                   'cap-ccf-assist': False,
                   'cap-fwnmi': True,
                   'cap-rpt-invalidate': False}},
 'cfpc-fixed-upper': {'rc': 'started',
                      'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-cfpc=fixed\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-sbbc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ibs=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ccf-assist=on\n',
                      'qom': {'cap-cfpc': 'fixed'}},
 'sbbc-broken': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ccf-assist=on\n',
                 'qom': {'cap-sbbc': 'broken'}},
 'ibs-fixed-ccd': {'rc': 'started',
                   'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-cfpc=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-sbbc=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ibs=fixed-ccd\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ccf-assist=on\n',
                   'qom': {'cap-ibs': 'fixed-ccd'}},
 'ibs-fixed-na': {'rc': 'started',
                  'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-cfpc=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-sbbc=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-ibs=fixed-na\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-ccf-assist=on\n',
                  'qom': {'cap-ibs': 'fixed-na'}},
 'cfpc-bad': {'rc': 1, 'stderr': 'qemu-system-ppc64: Invalid capability mode "nosuch" for cap-cfpc\n'},
 'cfpc-help': {'rc': 1,
               'stderr': 'qemu-system-ppc64: broken - no protection, workaround - workaround available, '
                         'fixed - fixed in hardware\n'},
 'ibs-help': {'rc': 1,
              'stderr': 'qemu-system-ppc64: broken - no protection, workaround - count cache flush, '
                        'fixed-ibs - indirect branch serialisation, fixed-ccd - cache count disabled, '
                        'fixed-na - fixed in hardware (no longer applicable)\n'},
 'htm-not-bool': {'rc': 1, 'stderr': "qemu-system-ppc64: Parameter 'cap-htm' expects 'on' or 'off'\n"},
 'htm-yes': {'rc': 'started',
             'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-cfpc=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-sbbc=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ibs=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ccf-assist=on\n',
             'qom': {'cap-htm': False, 'cap-vsx': True}},
 'pagesize-4k-warns': {'rc': 'started',
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-cfpc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-sbbc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ibs=workaround\n'
                                 'qemu-system-ppc64: warning: Many guests require at least 64kiB '
                                 'hpt-max-page-size\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ccf-assist=on\n',
                       'qom': {'cap-hpt-max-page-size': 4096}},
 'pagesize-16m': {'rc': 'started',
                  'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-cfpc=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-sbbc=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-ibs=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-ccf-assist=on\n',
                  'qom': {'cap-hpt-max-page-size': 16777216}},
 'pagesize-bytes': {'rc': 'started',
                    'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-cfpc=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-sbbc=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-ibs=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-ccf-assist=on\n',
                    'qom': {'cap-hpt-max-page-size': 65536}},
 'pagesize-2k-refused': {'rc': 1,
                         'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-cfpc=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-sbbc=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-ibs=workaround\n'
                                   'qemu-system-ppc64: Require at least 4kiB hpt-max-page-size\n'},
 'pagesize-not-pow2': {'rc': 1, 'stderr': 'qemu-system-ppc64: cap-hpt-max-page-size must be a power of 2\n'},
 'pagesize-zero': {'rc': 1, 'stderr': 'qemu-system-ppc64: cap-hpt-max-page-size must be a power of 2\n'},
 'pagesize-not-size': {'rc': 1,
                       'stderr': "qemu-system-ppc64: Parameter 'cap-hpt-max-page-size' expects size\n"},
 'htm-on': {'rc': 1,
            'stderr': 'qemu-system-ppc64: No Transactional Memory support in TCG\n'
                      'Try appending -machine cap-htm=off\n'},
 'nested-hv-on': {'rc': 'started',
                  'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-cfpc=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-sbbc=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-ibs=workaround\n'
                            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                            'cap-ccf-assist=on\n',
                  'qom': {'cap-nested-hv': True}},
 'rpt-invalidate-on': {'rc': 1,
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-cfpc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-sbbc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ibs=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ccf-assist=on\n'
                                 'qemu-system-ppc64: No H_RPT_INVALIDATE support in TCG\n'
                                 'Try appending -machine cap-rpt-invalidate=off\n'},
 'fwnmi-off': {'rc': 'started',
               'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-cfpc=workaround\n'
                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-sbbc=workaround\n'
                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-ibs=workaround\n'
                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-ccf-assist=on\n',
               'qom': {'cap-fwnmi': False}},
 'large-decr-power8': {'rc': 1,
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-cfpc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-sbbc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ibs=workaround\n'
                                 'qemu-system-ppc64: Large decrementer only supported on POWER9\n'
                                 'Try -cpu POWER9\n'},
 'large-decr-off-power8': {'rc': 'started',
                           'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                     'cap-cfpc=workaround\n'
                                     "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                     'cap-sbbc=workaround\n'
                                     "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                     'cap-ibs=workaround\n'
                                     "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                     'cap-ccf-assist=on\n',
                           'qom': {'cap-large-decr': False}},
 'vsx-on-970': {'rc': 1,
                'stderr': 'qemu-system-ppc64: VSX support not available\n'
                          'Try appending -machine cap-vsx=off\n'},
 'dfp-on-970': {'rc': 1,
                'stderr': 'qemu-system-ppc64: DFP support not available\n'
                          'Try appending -machine cap-dfp=off\n'},
 'ccf-assist-off': {'rc': 'started',
                    'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-cfpc=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-sbbc=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-ibs=workaround\n',
                    'qom': {'cap-ccf-assist': False}},
 'htm-and-rpt': {'rc': 1,
                 'stderr': 'qemu-system-ppc64: No Transactional Memory support in TCG\n'
                           'Try appending -machine cap-htm=off\n'},
 'pagesize-warn-then-rpt': {'rc': 1,
                            'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                      'cap-cfpc=workaround\n'
                                      "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                      'cap-sbbc=workaround\n'
                                      "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                      'cap-ibs=workaround\n'
                                      'qemu-system-ppc64: warning: Many guests require at least 64kiB '
                                      'hpt-max-page-size\n'
                                      "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                      'cap-ccf-assist=on\n'
                                      'qemu-system-ppc64: No H_RPT_INVALIDATE support in TCG\n'
                                      'Try appending -machine cap-rpt-invalidate=off\n'},
 'later-value-wins': {'rc': 'started',
                      'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-cfpc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-sbbc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ibs=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ccf-assist=on\n',
                      'qom': {'cap-htm': False}},
 'cpu-power8': {'rc': 'started',
                'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-cfpc=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-sbbc=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ibs=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ccf-assist=on\n',
                'qom': {'cap-htm': False,
                        'cap-vsx': True,
                        'cap-dfp': True,
                        'cap-cfpc': 'workaround',
                        'cap-sbbc': 'workaround',
                        'cap-ibs': 'workaround',
                        'cap-hpt-max-page-size': 65536,
                        'cap-nested-hv': False,
                        'cap-large-decr': False,
                        'cap-ccf-assist': True,
                        'cap-fwnmi': True,
                        'cap-rpt-invalidate': False}},
 'cpu-power7': {'rc': 'started',
                'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-sbbc=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ibs=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ccf-assist=on\n',
                'qom': {'cap-htm': False,
                        'cap-vsx': True,
                        'cap-dfp': True,
                        'cap-cfpc': 'broken',
                        'cap-sbbc': 'workaround',
                        'cap-ibs': 'workaround',
                        'cap-hpt-max-page-size': 65536,
                        'cap-nested-hv': False,
                        'cap-large-decr': False,
                        'cap-ccf-assist': True,
                        'cap-fwnmi': True,
                        'cap-rpt-invalidate': False,
                        'vsmt': 1,
                        'ic-mode': 'xics',
                        'kvm-type': 'auto',
                        'resize-hpt': 'enabled',
                        'max-cpu-compat': ''}},
 'cpu-970': {'rc': 'started',
             'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ccf-assist=on\n',
             'qom': {'cap-htm': False,
                     'cap-vsx': False,
                     'cap-dfp': False,
                     'cap-cfpc': 'broken',
                     'cap-sbbc': 'broken',
                     'cap-ibs': 'broken',
                     'cap-hpt-max-page-size': 65536,
                     'cap-nested-hv': False,
                     'cap-large-decr': False,
                     'cap-ccf-assist': True,
                     'cap-fwnmi': True,
                     'cap-rpt-invalidate': False,
                     'vsmt': 1,
                     'ic-mode': 'xics',
                     'kvm-type': 'auto',
                     'resize-hpt': 'enabled',
                     'max-cpu-compat': ''}},
 'cpu-power5': {'rc': 'started',
                'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ccf-assist=on\n',
                'qom': {'cap-htm': False,
                        'cap-vsx': False,
                        'cap-dfp': False,
                        'cap-cfpc': 'broken',
                        'cap-sbbc': 'broken',
                        'cap-ibs': 'broken',
                        'cap-hpt-max-page-size': 65536,
                        'cap-nested-hv': False,
                        'cap-large-decr': False,
                        'cap-ccf-assist': True,
                        'cap-fwnmi': True,
                        'cap-rpt-invalidate': False}},
 'cpu-power10': {'rc': 'started',
                 'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-cfpc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-sbbc=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ibs=workaround\n'
                           "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                           'cap-ccf-assist=on\n',
                 'qom': {'cap-htm': False,
                         'cap-vsx': True,
                         'cap-dfp': True,
                         'cap-cfpc': 'workaround',
                         'cap-sbbc': 'workaround',
                         'cap-ibs': 'workaround',
                         'cap-hpt-max-page-size': 65536,
                         'cap-nested-hv': False,
                         'cap-large-decr': True,
                         'cap-ccf-assist': True,
                         'cap-fwnmi': True,
                         'cap-rpt-invalidate': False}},
 'cpu-max': {'rc': 'started',
             'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-cfpc=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-sbbc=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ibs=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ccf-assist=on\n',
             'qom': {'cap-htm': False,
                     'cap-vsx': True,
                     'cap-dfp': True,
                     'cap-cfpc': 'workaround',
                     'cap-sbbc': 'workaround',
                     'cap-ibs': 'workaround',
                     'cap-hpt-max-page-size': 65536,
                     'cap-nested-hv': False,
                     'cap-large-decr': True,
                     'cap-ccf-assist': True,
                     'cap-fwnmi': True,
                     'cap-rpt-invalidate': False}},
 'cpu-upper': {'rc': 'started',
               'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-cfpc=workaround\n'
                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-sbbc=workaround\n'
                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-ibs=workaround\n'
                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                         'cap-ccf-assist=on\n'},
 'cpu-upper-versioned': {'rc': 'started',
                         'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-cfpc=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-sbbc=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-ibs=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-ccf-assist=on\n'},
 'cpu-pvr': {'rc': 'started',
             'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-cfpc=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-sbbc=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ibs=workaround\n'
                       "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                       'cap-ccf-assist=on\n'},
 'cpu-pvr-0x': {'rc': 'started',
                'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-cfpc=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-sbbc=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ibs=workaround\n'
                          "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                          'cap-ccf-assist=on\n'},
 'cpu-pvr-0X': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model '0X004E1200'\n"},
 'cpu-pvr-7': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model '04e1200'\n"},
 'cpu-pvr-unknown': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model '12345678'\n"},
 'cpu-nosuch': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model 'nosuch'\n"},
 'cpu-host-tcg': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model 'host'\n"},
 'cpu-empty': {'rc': 1, 'stderr': 'qemu-system-ppc64: -cpu option cannot be empty\n'},
 'cpu-not-spapr': {'rc': 1, 'stderr': 'qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n'},
 'cpu-none-machine': {'rc': 'started', 'stderr': ''},
 'cpu-none-machine-max': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model 'max'\n"},
 'cpu-none-machine-nosuch': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model 'nosuch'\n"},
 'cpu-before-caps': {'rc': 1, 'stderr': "qemu-system-ppc64: unable to find CPU model 'nosuch'\n"},
 'cpu-prop-unknown': {'rc': 1,
                      'stderr': "qemu-system-ppc64: can't apply global power9_v2.0-powerpc64-cpu.foo=1: "
                                "Property 'power9_v2.0-powerpc64-cpu.foo' not found\n"},
 'cpu-prop-unknown-alias-case': {'rc': 1,
                                 'stderr': "qemu-system-ppc64: can't apply global "
                                           'power9_v2.0-powerpc64-cpu.foo=1: Property '
                                           "'power9_v2.0-powerpc64-cpu.foo' not found\n"},
 'cpu-prop-bool-bad': {'rc': 1,
                       'stderr': "qemu-system-ppc64: can't apply global "
                                 'power9_v2.0-powerpc64-cpu.pre-3.0-migration=maybe: Parameter '
                                 "'pre-3.0-migration' expects 'on' or 'off'\n"},
 'cpu-prop-bool-ok': {'rc': 'started',
                      'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-cfpc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-sbbc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ibs=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ccf-assist=on\n'},
 'cpu-prop-not-key-value': {'rc': 1, 'stderr': 'qemu-system-ppc64: Expected key=value format, found foo.\n'},
 'cpu-prop-plus': {'rc': 1, 'stderr': 'qemu-system-ppc64: Expected key=value format, found +foo.\n'},
 'cpu-prop-after-smt': {'rc': 1,
                        'stderr': 'qemu-system-ppc64: TCG cannot support more than 1 thread/core on a '
                                  'pseries machine\n'},
 'cpu-prop-not-spapr': {'rc': 1, 'stderr': 'qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n'},
 'cpu-prop-before-caps': {'rc': 1,
                          'stderr': "qemu-system-ppc64: can't apply global power9_v2.0-powerpc64-cpu.foo=1: "
                                    "Property 'power9_v2.0-powerpc64-cpu.foo' not found\n"},
 'cpu-last-wins': {'rc': 'started',
                   'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-cfpc=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-sbbc=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ibs=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ccf-assist=on\n'},
 'tcg-smt': {'rc': 1,
             'stderr': 'qemu-system-ppc64: TCG cannot support more than 1 thread/core on a pseries '
                       'machine\n'},
 'tcg-smt-before-caps': {'rc': 1,
                         'stderr': 'qemu-system-ppc64: TCG cannot support more than 1 thread/core on a '
                                   'pseries machine\n'},
 'tcg-smt-not-spapr': {'rc': 1, 'stderr': 'qemu-system-ppc64: Unable to find sPAPR CPU Core definition\n'},
 'smt-one-thread': {'rc': 'started',
                    'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-cfpc=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-sbbc=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-ibs=workaround\n'
                              "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                              'cap-ccf-assist=on\n',
                    'qom': {'vsmt': 1}},
 'vsmt-set': {'rc': 'started',
              'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                        'cap-cfpc=workaround\n'
                        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                        'cap-sbbc=workaround\n'
                        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                        'cap-ibs=workaround\n'
                        "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                        'cap-ccf-assist=on\n',
              'qom': {'vsmt': 4}},
 'compat-power8': {'rc': 'started',
                   'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-cfpc=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-sbbc=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ibs=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ccf-assist=on\n',
                   'qom': {'cap-htm': False,
                           'cap-vsx': True,
                           'cap-dfp': True,
                           'cap-cfpc': 'workaround',
                           'cap-sbbc': 'workaround',
                           'cap-ibs': 'workaround',
                           'cap-hpt-max-page-size': 65536,
                           'cap-nested-hv': False,
                           'cap-large-decr': False,
                           'cap-ccf-assist': True,
                           'cap-fwnmi': True,
                           'cap-rpt-invalidate': False,
                           'vsmt': 1,
                           'ic-mode': 'xics',
                           'kvm-type': 'auto',
                           'resize-hpt': 'enabled',
                           'max-cpu-compat': 'power8'}},
 'compat-power7': {'rc': 'started',
                   'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ibs=workaround\n'
                             "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                             'cap-ccf-assist=on\n',
                   'qom': {'cap-htm': False,
                           'cap-vsx': True,
                           'cap-dfp': True,
                           'cap-cfpc': 'broken',
                           'cap-sbbc': 'broken',
                           'cap-ibs': 'workaround',
                           'cap-hpt-max-page-size': 65536,
                           'cap-nested-hv': False,
                           'cap-large-decr': False,
                           'cap-ccf-assist': True,
                           'cap-fwnmi': True,
                           'cap-rpt-invalidate': False,
                           'vsmt': 1,
                           'ic-mode': 'xics',
                           'kvm-type': 'auto',
                           'resize-hpt': 'enabled',
                           'max-cpu-compat': 'power7'}},
 'compat-power6-970': {'rc': 1,
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ccf-assist=on\n'
                                 'qemu-system-ppc64: Compatibility PVR 0x0f000002 not valid for CPU\n'},
 'compat-power10-on-power10': {'rc': 'started',
                               'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                         'cap-cfpc=workaround\n'
                                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                         'cap-sbbc=workaround\n'
                                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                         'cap-ibs=workaround\n'
                                         "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                         'cap-ccf-assist=on\n',
                               'qom': {'cap-htm': False,
                                       'cap-vsx': True,
                                       'cap-dfp': True,
                                       'cap-cfpc': 'workaround',
                                       'cap-sbbc': 'workaround',
                                       'cap-ibs': 'workaround',
                                       'cap-hpt-max-page-size': 65536,
                                       'cap-nested-hv': False,
                                       'cap-large-decr': True,
                                       'cap-ccf-assist': True,
                                       'cap-fwnmi': True,
                                       'cap-rpt-invalidate': False}},
 'compat-above-cpu': {'rc': 1,
                      'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-cfpc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-sbbc=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ibs=workaround\n'
                                "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                'cap-ccf-assist=on\n'
                                'qemu-system-ppc64: Compatibility PVR 0x0f000005 not valid for CPU\n'},
 'compat-power10-default-cpu': {'rc': 1,
                                'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested "
                                          'feature, cap-cfpc=workaround\n'
                                          "qemu-system-ppc64: warning: TCG doesn't support requested "
                                          'feature, cap-sbbc=workaround\n'
                                          "qemu-system-ppc64: warning: TCG doesn't support requested "
                                          'feature, cap-ibs=workaround\n'
                                          "qemu-system-ppc64: warning: TCG doesn't support requested "
                                          'feature, cap-ccf-assist=on\n'
                                          'qemu-system-ppc64: Compatibility PVR 0x0f000006 not valid for '
                                          'CPU\n'},
 'compat-upper': {'rc': 1, 'stderr': 'qemu-system-ppc64: Invalid compatibility mode "POWER8"\n'},
 'compat-bad': {'rc': 1, 'stderr': 'qemu-system-ppc64: Invalid compatibility mode "nosuch"\n'},
 'compat-2.11-power7': {'rc': 'started',
                        'stderr': '',
                        'qom': {'cap-htm': False,
                                'cap-vsx': True,
                                'cap-dfp': True,
                                'cap-cfpc': 'broken',
                                'cap-sbbc': 'broken',
                                'cap-ibs': 'broken',
                                'cap-hpt-max-page-size': 17179869184,
                                'cap-nested-hv': False,
                                'cap-large-decr': False,
                                'cap-ccf-assist': False,
                                'cap-fwnmi': False,
                                'cap-rpt-invalidate': False}},
 'compat-large-decr': {'rc': 1,
                       'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-cfpc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-sbbc=workaround\n'
                                 "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                 'cap-ibs=workaround\n'
                                 'qemu-system-ppc64: Large decrementer only supported on POWER9\n'
                                 'Try -cpu POWER9\n'},
 'compat-cmdline-wins': {'rc': 'started',
                         'stderr': "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-cfpc=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-sbbc=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-ibs=workaround\n'
                                   "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                                   'cap-ccf-assist=on\n',
                         'qom': {'cap-cfpc': 'workaround'}}}
