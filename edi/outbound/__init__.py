"""Outbound EDI: posted Vantagepoint AR invoices become X12 810 files in the trading
partner's Cleo folder, and the partner's 997s mark them acknowledged or rejected.

    mapping.py  AR invoice + client firm + project + partner + tenant -> Invoice810
    flow.py     the ar-810 flow: the AR invoice stream, steps map, render, upload
    acks.py     a partner's 997 applied to the 810s it answers (found by their control numbers)
"""

AR_810 = "ar-810"
