"""Inbound EDI: supplier 810 files picked up from Cleo become posted Vantagepoint AP vouchers.

    acknowledge.py   our 997 for what a file holds, and which sets it accepted
    receive.py       one 810-ap Document per accepted invoice, keyed by sender and controls
    resolve.py       vendor, project/phase/task and GL accounts, each checked in Vantagepoint
    voucher.py       the AP voucher batch: built from the resolution, named once per document
    flow.py          the 810-ap flow: steps resolve, check_duplicate, post
    demo.py          supplier files the demo drops into the simulated Cleo

The files themselves are the Cleo inbox's (edi/inbox.py): it takes them in, answers them with
our 997 and hands each accepted invoice to this flow.
"""

AP_810 = "810-ap"
