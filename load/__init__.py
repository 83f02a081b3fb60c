"""ftl-load: polling versus SSE request volume and SSE capacity, measured with Locust.

Layers, each importing only from the ones above it (no import inside a function anywhere in the package):

1. `errors`, `entries` (names of Locust's statistics entries), `workload`, `chart` (what the dashboard's chart
   requests), `training` (what the simulated training worker uploads), `results` (reading Locust's reports),
   `server_metrics` (reading an ftl-mock's `GET /__mock/metrics`).
2. `plan` (the typed plan and its slots, built from the spec), `tab` (a scenario: the `Tab` base, its `Page`).
3. `scenarios/` (one module per scenario, registered in `scenarios/__init__.py`), `sse` (the stream reader).
4. Locust side, run only in Locust's processes: `coordination`, `users`, `locustfile`.
5. Driver side: `runner` (starts Locust), `target`, `pipeline` (the one run pipeline), `charts`, `progress`.
6. `compare`, `capacity` (the commands' figures and reports), `cli`, `__main__`.

Adding a scenario: a module in `load/scenarios/` with a `Tab` subclass (its `name`, `title`, `line`, `color`,
what it does in `prepare`/`play`/`on_event`, and its `expected` counts), then its class in the
`registry(...)` call of `load/scenarios/__init__.py`.
"""
