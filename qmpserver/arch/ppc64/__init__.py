"""ppc64 (``qemu-system-ppc64``): the ``-cpu`` lookup (:mod:`.cpu`) and the pseries
machine's spapr capabilities (:mod:`.spapr`)."""
