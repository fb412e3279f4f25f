import random
from datetime import timedelta

from connector.retry import RETRY_AFTER_CAP, RETRY_SCHEDULE, next_retry_delay


def test_delays_grow_from_minutes_to_hours():
    delays = [next_retry_delay(n, rng=random.Random(1)) for n in range(len(RETRY_SCHEDULE))]
    assert delays[0] < timedelta(minutes=2)
    assert delays[-1] > timedelta(hours=6)
    assert next_retry_delay(len(RETRY_SCHEDULE)) is None


def test_retry_after_is_honoured_up_to_its_cap():
    rng = random.Random(2)
    assert next_retry_delay(0, retry_after=600, rng=rng) >= timedelta(minutes=9)
    huge = next_retry_delay(0, retry_after=10 * 24 * 3600, rng=rng)
    assert huge <= RETRY_AFTER_CAP * 1.1
