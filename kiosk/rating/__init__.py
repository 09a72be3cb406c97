"""The rating session: whether a press counts, what is stored when, who may sign in, and the figures.

No Kivy, no hardware and no SQL of its own (the store writes). `service` holds the state machine
(`RatingService`), over the session's values in `session`, its timers in `steps`, the outage's
bookkeeping in `outage` and its listeners in `listeners`; `access` checks staff and technician
sign-ins, `scoring` turns counts into the good rate. The timer protocol itself is `kiosk.scheduling`,
shared with the store.
"""
