"""The decisioning console, one module per screen.

``decisions``  the decision ledger, a decision and its explanation
``customers``  Customer 360, and the consent and do-not-contact changes it posts
``erasure``    erasure requests, and the form that erases a customer
``runs``       batch runs and simulations (the campaign screens post here)
``rules``      the rule language, checked live as it is typed

Customer 360 reads every layer (profile, consents, decisions, messages, responses), and
erasure and consent changes are orchestrated by ``decisioning.rights`` (the highest layer
involved), so their screens live here rather than in a lower app. Reads go through
``decisioning.selectors``, writes through the services; ``decisioning.urls`` imports the
modules, so nothing is re-exported here.
"""
