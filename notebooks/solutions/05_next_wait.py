import random


def next_wait(attempts_made):
    # 5 s after the first failure, doubling, never more than an hour; then ±20 % of jitter.
    planned = min(3600, 5 * 2 ** (attempts_made - 1))
    return planned * random.uniform(0.8, 1.2)
