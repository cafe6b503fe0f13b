# An event waits a uniformly random time between 0 and the interval, so 95% wait at most
# 0.95 × interval. The longest interval that keeps that within 20 s:
interval = 20 / 0.95
