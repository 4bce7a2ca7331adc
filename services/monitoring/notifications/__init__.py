"""Notifications: what reaches people without their visiting — in the portal's bell, and by
e-mail when the region configures SMTP (``NASTAVNIK_SMTP_*``).

It lives in monitoring, which owns the deadlines (``ReportDue``) and sees every pair's events;
``rules`` says who gets what, ``store`` keeps it (a projection of the monitoring and pairing
streams, the outbox and the read marks), ``mailer`` empties the outbox through SMTP with
addresses the registry gives at send time (RPC ``CONTACTS``), ``api`` serves the bell.
"""
