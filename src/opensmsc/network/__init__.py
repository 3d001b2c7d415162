"""The simulated mobile network (issue 6; DIGEST §6): HLR (hlr.py), subscribers
(subscribers.py), number portability (mnp.py), HLR lookups (lookup.py), MAP errors
(map_errors.py), MSISDN normalisation (numbers.py), the MSC and handsets (msc.py, handset.py).

Import from the modules themselves; this package exports nothing of its own.
"""
