"""Locust entry point of ``roucai load``: a city's day against a platform (run by ``loadtests.run``).

    locust -f loadtests/locustfile.py --headless --host URL --roucai-plan DIR --roucai-keys FILE \
        --roucai-duration 60 --roucai-report DIR --json-file OUT/locust --csv OUT/locust

Users: :mod:`loadtests.users`; shape: :class:`loadtests.shape.DayShape`; options and summaries:
:mod:`loadtests.hooks`.  Never import this module outside a Locust process (gevent patching).
"""

from loadtests.hooks import HOOKS  # noqa: F401  (registers the listeners and options)
from loadtests.shape import DayShape  # noqa: F401
from loadtests.users import Consumer, Monitor, NodeUploader  # noqa: F401
