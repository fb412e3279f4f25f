"""Inbound EDI: supplier 810 files picked up from Cleo become posted Vantagepoint AP vouchers.

    edi/inbox.py     picks files up (both flows share it): ledger, 997s routed, pickup
    acknowledge.py   our 997 for what a file holds, and which sets it accepted
    receive.py       one 810-ap Document per accepted invoice, keyed by sender and controls
    resolve.py       vendor, project/phase/task and GL accounts, each checked in Vantagepoint
    voucher.py       the AP voucher batch: built from the resolution, named once per document
    flow.py          the 810-ap flow: steps resolve, check_duplicate, post; the polling cycle
    demo.py          supplier files the demo drops into the simulated Cleo
"""

AP_810 = "810-ap"
