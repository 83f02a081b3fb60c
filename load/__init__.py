"""ftl-load: polling versus SSE request volume and SSE capacity, measured with Locust.

Locust itself is imported only by the locustfile, which always runs in its own processes.
"""
